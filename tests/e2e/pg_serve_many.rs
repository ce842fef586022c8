//! Three `lookalike serve` processes over one pgvector collection, as three machines behind a
//! load balancer: 16 clients add 3,000 small generated images through all three at once, a
//! tenth of them twice through two servers at the same moment. Each image is stored exactly
//! once, every duplicate is answered with the one id, and every server finds every image,
//! serves its original byte for byte, and explains it, whichever server received it.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use lookalike_e2e::postgres::PgServer;
use lookalike_e2e::server::{b64, TestServer};
use lookalike_e2e::{create_tiny_collection, picture};
use serde_json::{json, Value};

const IMAGES: usize = 3000;
const PER_REQUEST: usize = 10;
const CLIENTS: usize = 16;

/// Image `i`: 16 × 16, its number in its first pixels so that no two are the same.
fn image(i: usize) -> Vec<u8> {
    let mut img = picture(16, 16, i as u32);
    img.put_pixel(0, 0, image::Rgb([(i >> 8) as u8, i as u8, 7]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

#[test]
fn pg_three_servers_sixteen_clients_store_each_image_once() {
    let pg = PgServer::start();
    let dir = tempfile::tempdir().unwrap();
    let made = dir.path().join("made");
    create_tiny_collection(&made, "shop", &["--store", "pgvector", "--url", &pg.url()]);
    let servers: Vec<Arc<TestServer>> = (0..3)
        .map(|s| {
            let data = dir.path().join(format!("server{s}"));
            std::fs::create_dir_all(&data).unwrap();
            Arc::new(TestServer::start(
                &data,
                &[
                    "--pg",
                    &pg.url(),
                    "--api-key",
                    "k",
                    "--instance",
                    &format!("node-{s}"),
                ],
                &[],
            ))
        })
        .collect();

    let images: Arc<Vec<Vec<u8>>> = Arc::new((0..IMAGES).map(image).collect());
    assert_eq!(images.iter().collect::<HashSet<_>>().len(), IMAGES);
    // Request j holds images 10j..10j+10, sent by client j % 16 through server j % 3; every
    // tenth request is sent again by client (j + 8) % 16 through the next server, at about the
    // same moment, since every client goes through its requests in the order of j.
    let requests = IMAGES / PER_REQUEST;
    let mut plan: Vec<Vec<(usize, usize)>> = vec![Vec::new(); CLIENTS];
    for j in 0..requests {
        plan[j % CLIENTS].push((j, j % 3));
        if j % 10 == 0 {
            plan[(j + 8) % CLIENTS].push((j, (j + 1) % 3));
        }
    }
    let answers: Arc<Mutex<Vec<(usize, Value, String)>>> = Arc::default();
    let clients: Vec<_> = plan
        .into_iter()
        .map(|mine| {
            let (servers, images, answers) = (servers.clone(), images.clone(), answers.clone());
            std::thread::spawn(move || {
                for (j, s) in mine {
                    let batch: Vec<Value> = (j * PER_REQUEST..(j + 1) * PER_REQUEST)
                        .map(|i| json!({"base64": b64(&images[i]), "id": format!("sku-{i}")}))
                        .collect();
                    let reply = servers[s].json(
                        "POST",
                        "/api/collections/shop/images",
                        &[("Authorization", "Bearer k")],
                        &json!({ "images": batch }),
                    );
                    assert!(
                        reply.status == 200 || reply.status == 201,
                        "{}: {}",
                        reply.status,
                        String::from_utf8_lossy(&reply.body)
                    );
                    let by = reply
                        .header("x-lookalike-instance")
                        .unwrap_or("")
                        .to_string();
                    answers.lock().unwrap().push((j, reply.json(), by));
                }
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }

    // Each image created once; every answer for it (the duplicate's too) names the same id.
    let mut id_of: HashMap<usize, u64> = HashMap::new();
    let mut created = 0;
    let answers = answers.lock().unwrap();
    assert_eq!(answers.len(), requests + requests / 10);
    let mut instances = HashSet::new();
    for (j, reply, by) in answers.iter() {
        instances.insert(by.clone());
        for (k, img) in reply["images"].as_array().unwrap().iter().enumerate() {
            let i = j * PER_REQUEST + k;
            assert_eq!(img["external_id"], json!(format!("sku-{i}")), "{img}");
            let id = img["id"].as_u64().unwrap();
            if img["created"] == json!(true) {
                created += 1;
            }
            assert_eq!(*id_of.entry(i).or_insert(id), id, "image {i} has two ids");
        }
    }
    assert_eq!(created, IMAGES);
    assert_eq!(
        instances,
        HashSet::from(["node-0".to_string(), "node-1".into(), "node-2".into()])
    );
    assert_eq!(
        pg.psql(
            "SELECT count(*), count(DISTINCT metadata->>'sha256'), \
             count(DISTINCT metadata->>'external_id') FROM lookalike_shop"
        ),
        format!("{IMAGES}|{IMAGES}|{IMAGES}")
    );

    // Every server finds every image: by its id (its metadata, from PostgreSQL), and a sample
    // by its pixels among the images of its external id. (Not unfiltered: at 16 × 16 pixels
    // many of these images embed within 0.003 of each other, and HNSW is approximate.)
    let id_of = Arc::new(id_of);
    let checks: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let (servers, id_of, images) = (servers.clone(), id_of.clone(), images.clone());
            std::thread::spawn(move || {
                for i in (c..IMAGES).step_by(CLIENTS) {
                    for server in servers.iter() {
                        let got =
                            server.get(&format!("/api/collections/shop/images/{}", id_of[&i]));
                        assert_eq!(got.status, 200, "image {i}");
                        assert_eq!(
                            got.json()["metadata"]["external_id"],
                            json!(format!("sku-{i}"))
                        );
                    }
                    if i % 50 == c % 50 {
                        let server = &servers[i % 3];
                        let found = server.json(
                            "POST",
                            "/api/collections/shop/search",
                            &[],
                            &json!({"image": b64(&images[i]), "k": 1,
                                    "filter": {"external_id": format!("sku-{i}")}}),
                        );
                        let hit = &found.json()["hits"][0];
                        assert_eq!(hit["id"].as_u64(), Some(id_of[&i]), "image {i}: {hit}");
                        // Its own vector: the same pixels embed the same on every server.
                        assert!(hit["similarity"].as_f64().unwrap() > 0.9999, "{hit}");
                    }
                }
            })
        })
        .collect();
    for c in checks {
        c.join().unwrap();
    }
    for server in &servers {
        let metrics = String::from_utf8(server.get("/metrics").body).unwrap();
        assert!(metrics.contains("instance=\"node-"), "{metrics}");
    }

    // The originals are in PostgreSQL, not in any server's folder: a server that did not
    // receive an image serves its bytes, explains it, and searches "more like" it.
    assert_eq!(
        pg.psql("SELECT count(*) FROM lookalike_shop_originals"),
        IMAGES.to_string()
    );
    for s in 0..3 {
        let data = dir.path().join(format!("server{s}"));
        let kept: Vec<_> = walk(&data)
            .into_iter()
            .filter(|p| p.components().any(|c| c.as_os_str() == "uploads"))
            .collect();
        assert!(kept.is_empty(), "server {s} kept files itself: {kept:?}");
    }
    for i in [3, 1234, 2999] {
        // Request i / 10 went first through server (i / 10) % 3; ask the next one.
        let other = &servers[(i / PER_REQUEST + 1) % 3];
        let file = other.get(&format!("/api/collections/shop/images/{}/image", id_of[&i]));
        assert_eq!(file.status, 200, "image {i}");
        assert!(
            file.body == images[i],
            "image {i}: the bytes served differ from the upload"
        );
        let explained = other.json(
            "POST",
            "/api/collections/shop/explain",
            &[],
            &json!({"id": id_of[&i], "hit": id_of[&((i + 1) % IMAGES)]}),
        );
        assert_eq!(
            explained.status,
            200,
            "{}",
            String::from_utf8_lossy(&explained.body)
        );
        assert!(explained.json()["similarity"].is_number());
        let like = other.json(
            "POST",
            "/api/collections/shop/search",
            &[],
            &json!({"id": id_of[&i], "k": 3}),
        );
        assert_eq!(like.status, 200, "{}", String::from_utf8_lossy(&like.body));
        let hits = like.json()["hits"].as_array().unwrap().clone();
        assert_eq!(hits.len(), 3);
        assert!(hits.iter().all(|h| h["id"].as_u64() != Some(id_of[&i])));
    }
}

/// Every file under `dir`.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}
