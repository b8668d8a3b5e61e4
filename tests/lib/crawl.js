// crawl.js: the Bun form of crawl.py: replay a crawler's writes the way webpull makes them on
// Bun: N async workers, each `mkdir -p` (fs.promises.mkdir recursive) of a page's directory then
// Bun.write of the whole page, overlapping. The tree is generated deterministically with the
// shape of crawl.py (a real 177-page documentation crawl: ~92 directories up to 6 levels, median
// ~7 KB per page); the bytes differ from crawl.py's (another PRNG), the shape does not.
//
//   bun crawl.js --dest DIR [--workers 16] [--files 177] [--dirs 92] [--seed 1] [--fetch] [--manifest]
// --fetch serves the pages from a Bun.serve on loopback (in this process) and each worker fetches
// its page before writing it, as a crawler does. --manifest prints "sha256  path" of the
// generated files without writing anything.
const fsp = require("fs/promises");
const path = require("path");

const WORDS = ("memory context agent vector search index document container filepath sync shim cache " +
    "latency crawler markdown guide api reference quickstart embedding chunk token retrieval " +
    "graph user profile connector webhook sdk python typescript deploy").split(" ");

function rng(seed) { // mulberry32
    let a = seed >>> 0;
    const next = () => {
        a = (a + 0x6d2b79f5) >>> 0;
        let t = a;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const r = {
        random: next,
        int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
        choice: (l) => l[Math.floor(next() * l.length)],
        sample: (l, k) => {
            const c = l.slice();
            for (let i = 0; i < k; i++) {
                const j = i + Math.floor(next() * (c.length - i));
                [c[i], c[j]] = [c[j], c[i]];
            }
            return c.slice(0, k);
        },
        lognormal: (mu, sigma) => {
            const u = 1 - next(), v = next();
            return Math.exp(mu + sigma * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v));
        },
    };
    return r;
}

function plan(files, dirs, seed) {
    const rnd = rng(seed);
    const tops = ["docs", "blog", "api-reference", "cookbook", "integrations", "changelog"];
    const dset = [];
    while (dset.length < dirs) {
        const depth = rnd.choice([1, 2, 2, 3, 3, 3, 4, 4, 5, 6]);
        const parts = [rnd.choice(tops)];
        for (let i = 1; i < depth; i++) parts.push(rnd.sample(WORDS, 2).join("-"));
        for (let i = 1; i <= parts.length; i++) {
            const d = parts.slice(0, i).join("/");
            if (!dset.includes(d) && dset.length < dirs) dset.push(d);
        }
    }
    const out = [];
    const seen = new Set();
    for (let i = 0; i < files; i++) {
        const d = i < dset.length ? dset[i % dset.length] : rnd.choice(dset);
        const name = i < dset.length ? "index.md" : rnd.sample(WORDS, 3).join("-") + ".md";
        let p = d + "/" + name;
        if (seen.has(p)) p = d + "/page-" + i + ".md";
        seen.add(p);
        const size = Math.floor(Math.min(Math.max(rnd.lognormal(8.8, 0.8), 300), 80000));
        const title = rnd.sample(WORDS, 4).map((w) => w[0].toUpperCase() + w.slice(1)).join(" ");
        const lines = ["# " + title, ""];
        let n = lines[0].length + 1;
        while (n < size) {
            const k = rnd.int(6, 16);
            let line = Array.from({ length: k }, () => rnd.choice(WORDS)).join(" ") + ".";
            if (rnd.random() < 0.1) line = "## " + line;
            lines.push(line);
            n += line.length + 1;
        }
        out.push([p, lines.join("\n") + "\n"]);
    }
    return out;
}

function args() {
    const a = { dest: null, workers: 16, files: 177, dirs: 92, seed: 1, manifest: false, fetch: false };
    const v = process.argv.slice(2);
    for (let i = 0; i < v.length; i++) {
        const k = v[i].replace(/^--/, "");
        if (k === "manifest" || k === "fetch") a[k] = true;
        else a[k] = k === "dest" ? v[++i] : Number(v[++i]);
    }
    return a;
}

async function main() {
    const a = args();
    const items = plan(a.files, a.dirs, a.seed);
    if (a.manifest) {
        for (const [p, d] of items.slice().sort((x, y) => (x[0] < y[0] ? -1 : 1)))
            console.log(new Bun.CryptoHasher("sha256").update(d).digest("hex") + "  " + p);
        return 0;
    }
    if (!a.dest) {
        console.error("usage: bun crawl.js --dest DIR [--workers N] [--files N] [--dirs N] [--seed N]");
        return 2;
    }
    const errors = [];
    let next = 0;
    let server = null;
    if (a.fetch) {
        const pages = new Map(items);
        server = Bun.serve({
            port: 0,
            hostname: "127.0.0.1",
            fetch(req) {
                const p = decodeURIComponent(new URL(req.url).pathname.slice(1));
                const d = pages.get(p);
                return d === undefined ? new Response("not found", { status: 404 })
                    : new Response(d, { headers: { "content-type": "text/markdown" } });
            },
        });
    }
    const t0 = performance.now();
    async function worker() {
        while (next < items.length) {
            let [p, data] = items[next++];
            const full = path.join(a.dest, p);
            try {
                if (server) {
                    const res = await fetch(`http://127.0.0.1:${server.port}/${encodeURIComponent(p)}`);
                    if (!res.ok) throw Object.assign(new Error("HTTP " + res.status), { code: "HTTP" });
                    data = await res.text();
                }
                await fsp.mkdir(path.dirname(full), { recursive: true });
                await Bun.write(full, data);
            } catch (e) {
                errors.push(p + ": " + e.code + " " + e.message);
            }
        }
    }
    await Promise.all(Array.from({ length: a.workers }, worker));
    const dt = (performance.now() - t0) / 1000;
    if (server) server.stop(true);
    for (const e of errors) console.error("error:", e);
    const dirs = new Set(items.map(([p]) => path.dirname(p)));
    console.log(`crawl${a.fetch ? " (fetch)" : ""}: ${items.length} files in ${dirs.size} directories, ${errors.length} errors, ${dt.toFixed(3)} s`);
    return errors.length ? 1 : 0;
}

main().then((rc) => process.exit(rc));
