//! Search by a region of the query, through the CLI and the API: a box in pixels or fractions
//! finds what is in that part of a photo of two products, and `auto_crop` finds the product on
//! a plain background and says which box it used.

use image::{imageops, Rgb, RgbImage};
use lookalike_e2e::server::{b64, expect, TestServer};
use lookalike_e2e::{lookalike, picture, text};
use serde_json::{json, Value};

fn json_of(args: &[&str]) -> Value {
    let run = lookalike(args);
    let (out, err) = text(&run);
    assert!(run.status.success(), "{args:?}: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

fn png_bytes(img: &RgbImage) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

fn top_product(v: &Value) -> String {
    v["hits"][0]["metadata"]["product"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn search_by_a_box_or_the_main_object() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    let run = lookalike(&[
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
    assert!(run.status.success(), "{}", text(&run).1);
    // Eight products, one 128 × 128 photo each.
    let photos: Vec<RgbImage> = (0..8)
        .map(|p| imageops::resize(&picture(64, 64, 7 + p * 5), 128, 128, imageops::Triangle))
        .collect();
    for (p, photo) in photos.iter().enumerate() {
        let folder = dir.path().join(format!("images/S{p}"));
        std::fs::create_dir_all(&folder).unwrap();
        photo.save(folder.join("0.png")).unwrap();
        let meta = format!("product=S{p}");
        let run = lookalike(&[
            "index",
            "add",
            "shop",
            folder.to_str().unwrap(),
            "--meta",
            &meta,
            "--data-dir",
            d,
            "-q",
        ]);
        assert!(run.status.success(), "{}", text(&run).1);
    }
    // A photo of two products side by side: S2 on the left, S5 on the right.
    let mut pair = RgbImage::new(256, 128);
    imageops::replace(&mut pair, &photos[2], 0, 0);
    imageops::replace(&mut pair, &photos[5], 128, 0);
    let pair_path = dir.path().join("pair.png");
    pair.save(&pair_path).unwrap();
    // S6 small on a plain white background.
    let mut scene = RgbImage::from_pixel(300, 240, Rgb([255, 255, 255]));
    let small = imageops::resize(&photos[6], 96, 96, imageops::Triangle);
    imageops::replace(&mut scene, &small, 170, 60);
    let scene_path = dir.path().join("scene.png");
    scene.save(&scene_path).unwrap();

    let search = |query: &std::path::Path, extra: &[&str]| {
        let mut args = vec![
            "search",
            "shop",
            query.to_str().unwrap(),
            "--data-dir",
            d,
            "--json",
        ];
        args.extend_from_slice(extra);
        json_of(&args)
    };
    let left = search(&pair_path, &["--crop", "0,0,128,128"]);
    assert_eq!(top_product(&left), "S2");
    assert_eq!(left["crop"]["box"], json!([0, 0, 128, 128]));
    assert_eq!(left["crop"]["method"], "given");
    let right = search(&pair_path, &["--crop", "0.5,0,0.5,1"]);
    assert_eq!(top_product(&right), "S5");
    assert_eq!(right["crop"]["box"], json!([128, 0, 128, 128]));
    assert_eq!(right["crop"]["image_size"], json!([256, 128]));
    // The right half is S5 as surely as S5's own photo is.
    let own = search(&dir.path().join("images/S5/0.png"), &[]);
    let sim = |v: &Value| v["hits"][0]["similarity"].as_f64().unwrap();
    assert!(
        sim(&right) > 0.99 * sim(&own),
        "{} vs {}",
        sim(&right),
        sim(&own)
    );

    let auto = search(&scene_path, &["--auto-crop"]);
    assert_eq!(top_product(&auto), "S6");
    assert_eq!(auto["crop"]["method"], "auto");
    let b: Vec<i64> = auto["crop"]["box"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    // The object's box (170, 60, 96, 96), padded by 1% of the image (3 and 2 pixels).
    assert!(
        (165..=170).contains(&b[0]) && (56..=60).contains(&b[1]),
        "{b:?}"
    );
    assert!(
        (96..=104).contains(&b[2]) && (96..=102).contains(&b[3]),
        "{b:?}"
    );
    // The text output says which region it searched.
    let run = lookalike(&[
        "search",
        "shop",
        scene_path.to_str().unwrap(),
        "--auto-crop",
        "--data-dir",
        d,
    ]);
    assert!(
        text(&run).0.starts_with("region (auto): "),
        "{}",
        text(&run).0
    );
    // A box that does not fit is refused, naming the image's size.
    let run = lookalike(&[
        "search",
        "shop",
        pair_path.to_str().unwrap(),
        "--crop",
        "200,0,100,100",
        "--data-dir",
        d,
    ]);
    assert!(!run.status.success());
    assert!(
        text(&run).1.contains("does not fit the 256 × 128 image"),
        "{}",
        text(&run).1
    );

    // The API: crop and auto_crop, grouped or not; the box comes back.
    let server = TestServer::start(&data, &[], &[]);
    let url = "/api/collections/shop/search";
    let pair_b64 = b64(&png_bytes(&pair));
    let found = server.json(
        "POST",
        url,
        &[],
        &json!({"image": pair_b64, "crop": [0.5, 0, 0.5, 1], "k": 3}),
    );
    expect(&found, 200, "");
    let found = found.json();
    assert_eq!(found["hits"][0]["metadata"]["product"], "S5");
    assert_eq!(found["crop"]["box"], json!([128, 0, 128, 128]));
    let grouped = server.json(
        "POST",
        url,
        &[],
        &json!({"image": b64(&png_bytes(&scene)), "auto_crop": true, "k": 3, "group_by": "product"}),
    );
    expect(&grouped, 200, "");
    let grouped = grouped.json();
    assert_eq!(grouped["groups"][0]["group"], "S6");
    assert_eq!(grouped["crop"]["method"], "auto");
    // A stored image as the query, cut to a box: S2's left half is still S2.
    let s2 = left["hits"][0]["id"].as_u64().unwrap();
    let cut = server.json(
        "POST",
        url,
        &[],
        &json!({"id": s2, "crop": [0, 0, 64, 128]}),
    );
    expect(&cut, 200, "");
    assert_eq!(cut.json()["crop"]["image_size"], json!([128, 128]));
    for (body, needle) in [
        (
            json!({"image": pair_b64, "crop": [0, 0, 300, 10]}),
            "does not fit the 256 × 128 image",
        ),
        (
            json!({"image": pair_b64, "crop": [0, 0, 0, 10]}),
            "more than 0",
        ),
        (json!({"image": pair_b64, "crop": [1, 2]}), "four numbers"),
        (
            json!({"image": pair_b64, "crop": [0, 0, 1, 1], "auto_crop": true}),
            "not both",
        ),
    ] {
        expect(&server.json("POST", url, &[], &body), 400, needle);
    }
    let form = server.form(
        url,
        &[],
        &[
            ("image", Some("pair.png"), &png_bytes(&pair)),
            ("crop", None, b"0,0,128,128"),
        ],
    );
    expect(&form, 200, "");
    assert_eq!(form.json()["hits"][0]["metadata"]["product"], "S2");
}
