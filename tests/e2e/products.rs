//! Products through the CLI and the API: a grouped search returns k distinct products even when
//! one product has 20 near-identical photos, each with its best image and its other image ids;
//! a product's images are updated and deleted together.

use std::path::Path;

use lookalike_e2e::server::{expect, TestServer, KEY};
use lookalike_e2e::{fails_with, lookalike, picture, text};
use serde_json::{json, Value};

fn ok(args: &[&str]) -> String {
    let run = lookalike(args);
    let (stdout, stderr) = text(&run);
    assert!(run.status.success(), "{args:?} failed:\n{stderr}");
    stdout
}

fn json_of(args: &[&str]) -> Value {
    let out = ok(args);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}):\n{out}"))
}

/// `P00` has 20 photos of one picture, each with one pixel changed; `P01`..`P12` have two
/// photos each of their own picture.
fn products(dir: &Path) -> Vec<(String, std::path::PathBuf)> {
    let mut out = Vec::new();
    for p in 0..13u32 {
        let folder = dir.join(format!("P{p:02}"));
        std::fs::create_dir_all(&folder).unwrap();
        let photos = if p == 0 { 20 } else { 2 };
        for i in 0..photos {
            let mut img = picture(64, 64, if p == 0 { 40 } else { 40 + p * 3 + i });
            img.put_pixel(i % 64, i / 64, image::Rgb([i as u8, 255, 0]));
            img.save(folder.join(format!("{i:02}.png"))).unwrap();
        }
        out.push((format!("P{p:02}"), folder));
    }
    out
}

fn groups_of(v: &Value) -> Vec<Value> {
    v["groups"].as_array().unwrap().clone()
}

#[test]
fn grouped_search_and_product_updates() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    ok(&[
        "index",
        "create",
        "shop",
        "--model",
        "zero-shot",
        "--backbone",
        "tiny",
        "--data-dir",
        d,
    ]);
    let catalogue = products(&dir.path().join("images"));
    for (product, folder) in &catalogue {
        let meta = format!("product={product}");
        ok(&[
            "index",
            "add",
            "shop",
            folder.to_str().unwrap(),
            "--meta",
            &meta,
            "--meta",
            "price=25",
            "--data-dir",
            d,
            "-q",
        ]);
    }
    let query = catalogue[0].1.join("00.png");
    let q = query.to_str().unwrap();

    // Ungrouped, the 20 near-identical photos of P00 fill the page.
    let plain = json_of(&["search", "shop", q, "-k", "10", "--data-dir", d, "--json"]);
    let hits = plain["hits"].as_array().unwrap();
    assert!(hits.iter().all(|h| h["metadata"]["product"] == "P00"));

    // Grouped: 10 distinct products, P00 first with its 19 other photos.
    let search = |extra: &[&str]| {
        let mut args = vec![
            "search",
            "shop",
            q,
            "--group-by",
            "product",
            "--data-dir",
            d,
            "--json",
        ];
        args.extend_from_slice(extra);
        json_of(&args)
    };
    let grouped = search(&["-k", "10"]);
    let groups = groups_of(&grouped);
    assert_eq!(groups.len(), 10);
    let names: Vec<&str> = groups
        .iter()
        .map(|g| g["group"].as_str().unwrap())
        .collect();
    let distinct: std::collections::HashSet<_> = names.iter().collect();
    assert_eq!(distinct.len(), 10, "{names:?}");
    assert_eq!(names[0], "P00");
    assert_eq!(groups[0]["other_ids"].as_array().unwrap().len(), 19);
    assert!(groups[0]["best"]["path"]
        .as_str()
        .unwrap()
        .ends_with("P00/00.png"));
    assert_eq!(groups[1]["other_ids"].as_array().unwrap().len(), 1);
    let sims: Vec<f64> = groups
        .iter()
        .map(|g| g["best"]["similarity"].as_f64().unwrap())
        .collect();
    assert!(sims.windows(2).all(|w| w[0] >= w[1]), "{sims:?}");
    // k beyond the products there are: every product once; paging continues the ranking.
    assert_eq!(groups_of(&search(&["-k", "50"])).len(), 13);
    let page = groups_of(&search(&["-k", "5", "--offset", "5"]));
    let page_names: Vec<&str> = page.iter().map(|g| g["group"].as_str().unwrap()).collect();
    assert_eq!(page_names, names[5..10]);
    // With a filter: only P00 matches `product=P00`, so one group.
    assert_eq!(
        groups_of(&search(&["-k", "10", "--filter", "product in (P00)"])).len(),
        1
    );
    // The text output names the product and the other photos.
    let out = ok(&[
        "search",
        "shop",
        q,
        "--group-by",
        "product",
        "-k",
        "3",
        "--data-dir",
        d,
    ]);
    assert!(out.lines().next().unwrap().contains("P00"), "{out}");
    assert!(out.contains("(+19 more)"), "{out}");

    // Product-level metadata update, then delete.
    let out = ok(&[
        "index",
        "set",
        "shop",
        "--product",
        "P03",
        "price=9.5",
        "on_sale=true",
        "--data-dir",
        d,
    ]);
    assert!(out.contains("updated 2 images of product \"P03\""), "{out}");
    let cheap = search(&["-k", "10", "--filter", "price<10"]);
    let cheap = groups_of(&cheap);
    assert_eq!(cheap.len(), 1);
    assert_eq!(cheap[0]["group"], "P03");
    assert_eq!(cheap[0]["best"]["metadata"]["on_sale"], true);
    let out = ok(&["index", "rm", "shop", "--product", "P03", "--data-dir", d]);
    assert!(out.contains("deleted 2 images"), "{out}");
    assert_eq!(groups_of(&search(&["-k", "50"])).len(), 12);
    assert!(groups_of(&search(&["-k", "10", "--filter", "price<10"])).is_empty());
    fails_with(
        &["index", "rm", "shop", "--product", "P03", "--data-dir", d],
        "no image of product \"P03\"",
    );
    fails_with(
        &[
            "index",
            "set",
            "shop",
            "--product",
            "nope",
            "a=1",
            "--data-dir",
            d,
        ],
        "no image of product \"nope\"",
    );
    fails_with(
        &[
            "index",
            "add",
            "shop",
            catalogue[1].1.to_str().unwrap(),
            "--meta",
            "sha256=x",
            "--data-dir",
            d,
        ],
        "reserved",
    );

    // The same through the API.
    let server = TestServer::start(&data, &["--api-key", KEY], &[]);
    let auth = [("X-API-Key", KEY)];
    let search = "/api/collections/shop/search";
    let found = server.json(
        "POST",
        search,
        &[],
        &json!({"image": lookalike_e2e::server::b64(&std::fs::read(&query).unwrap()),
                "k": 10, "group_by": "product"}),
    );
    expect(&found, 200, "");
    let groups = groups_of(&found.json());
    assert_eq!(groups.len(), 10);
    assert_eq!(groups[0]["group"], "P00");
    assert_eq!(groups[0]["other_ids"].as_array().unwrap().len(), 19);
    assert!(groups[0]["best"]["thumbnail_url"].is_string());
    // "More like this product": the product itself is left out.
    let like = server.json(
        "POST",
        search,
        &[],
        &json!({"product": "P00", "k": 5, "group_by": "product"}),
    );
    expect(&like, 200, "");
    let like = groups_of(&like.json());
    assert_eq!(like.len(), 5);
    assert!(like.iter().all(|g| g["group"] != "P00"));
    // Filters in the grammar, as one string or a list.
    let filtered = server.json(
        "POST",
        search,
        &[],
        &json!({"product": "P00", "k": 10, "group_by": "product",
                "filter": ["product in (P01, P02, P04)", "price>=25"]}),
    );
    expect(&filtered, 200, "");
    assert_eq!(groups_of(&filtered.json()).len(), 3);
    expect(
        &server.json(
            "POST",
            search,
            &[],
            &json!({"product": "P00", "filter": "price<<3"}),
        ),
        400,
        "bad filter",
    );
    expect(
        &server.json("POST", search, &[], &json!({"product": "nope"})),
        404,
        "no image of product",
    );
    // A product's images, updated and deleted together.
    let product = "/api/collections/shop/products/P05";
    let shown = server.get(product);
    expect(&shown, 200, "");
    assert_eq!(shown.json()["images"].as_array().unwrap().len(), 2);
    let patched = server.json("PATCH", product, &auth, &json!({"stock": 0, "price": null}));
    expect(&patched, 200, "");
    for image in patched.json()["images"].as_array().unwrap() {
        assert_eq!(image["metadata"]["stock"], 0);
        assert!(image["metadata"].get("price").is_none());
    }
    expect(
        &server.json("PATCH", product, &[], &json!({"stock": 1})),
        401,
        "",
    );
    expect(
        &server.json("PATCH", product, &auth, &json!({"sha256": "x"})),
        400,
        "reserved",
    );
    expect(
        &server.json("PATCH", product, &auth, &json!({"product": 5})),
        400,
        "non-empty string",
    );
    let deleted = server.call("DELETE", product, &auth);
    expect(&deleted, 200, "");
    assert_eq!(deleted.json()["deleted"], 2);
    expect(&server.get(product), 404, "no image of product \"P05\"");
    expect(&server.call("DELETE", product, &auth), 404, "");
}
