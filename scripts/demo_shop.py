#!/usr/bin/env python3
"""The demo's sample shop: one product page (web/widget/demo-shop.html) that embeds the
similar-products widget, served on its own port, so from another origin than `lookalike serve`.

    demo_shop.py --bind 127.0.0.1:8081 --lookalike http://127.0.0.1:8080/ \
        --collection catalogue --feed index/demo/catalogue/feed.csv

`lookalike serve` must allow this page's origin: `--cors-origin http://127.0.0.1:8081`
(make demo does both). GET / shows the feed's first product, GET /?p=P00042 another one.
Standard library only.
"""
import argparse
import csv
import html
import http.server
import pathlib
import sys

PAGE = pathlib.Path(__file__).resolve().parent.parent / "web" / "widget" / "demo-shop.html"


def page(lookalike, collection, first):
    text = PAGE.read_text()
    for name, value in (("LOOKALIKE", lookalike), ("COLLECTION", collection), ("FIRST", first)):
        text = text.replace("{{%s}}" % name, html.escape(value, quote=True))
    return text.encode()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bind", default="127.0.0.1:8081")
    p.add_argument("--lookalike", default="http://127.0.0.1:8080/", help="where lookalike serve runs")
    p.add_argument("--collection", default="catalogue")
    p.add_argument("--feed", required=True, help="the imported feed (its first product is shown at /)")
    args = p.parse_args()
    lookalike = args.lookalike if args.lookalike.endswith("/") else args.lookalike + "/"
    with open(args.feed, newline="") as f:
        first = next(csv.DictReader(f))["id"]
    body = page(lookalike, args.collection, first)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path.split("?")[0] != "/":
                self.send_error(404, "the demo shop has one page: /")
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    host, port = args.bind.rsplit(":", 1)
    server = http.server.ThreadingHTTPServer((host, int(port)), Handler)
    print(f"demo shop (a product page with the widget) at http://{host}:{server.server_port}/", file=sys.stderr)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
