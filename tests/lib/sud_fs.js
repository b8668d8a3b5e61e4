// sud_fs.js: Bun's fs sync and promise APIs, Bun.write and Bun.file on the directory $W, with
// deterministic output (sorted listings, no inode/device/time), for the SUD parity test: run once
// in a real directory and once under the prefix, the output and the tree must be identical.
// Usage: W=DIR bun sud_fs.js
const fs = require("fs");
const fsp = require("fs/promises");
const path = require("path");
const W = process.env.W;

function st(s) {
    const t = s.isFile() ? "file" : s.isDirectory() ? "dir" : s.isSymbolicLink() ? "link" : "other";
    return `${t} mode=${(s.mode & 0o7777).toString(8)}` + (t === "dir" ? "" : ` size=${s.size}`);
}
function show(r) {
    if (r === undefined) return "undefined";
    if (typeof r === "string") return JSON.stringify(r);
    if (Array.isArray(r)) return JSON.stringify(r);
    return String(r);
}
function t(label, fn) {
    try {
        console.log(label, "->", show(fn()));
    } catch (e) {
        console.log(label, "!!", e.code, e.syscall);
    }
}
async function ta(label, fn) {
    try {
        console.log(label, "->", show(await fn()));
    } catch (e) {
        console.log(label, "!!", e.code, e.syscall);
    }
}
const sorted = (l) => l.slice().sort();
const dirents = (l) =>
    l.map((d) => d.name + ":" + (d.isFile() ? "f" : d.isDirectory() ? "d" : d.isSymbolicLink() ? "l" : "?"))
        .sort().join(" ");

(async () => {
    // ---- sync ----
    t("mkdirSync recursive", () => fs.mkdirSync(W + "/a/b/c", { recursive: true }));
    t("mkdirSync existing", () => fs.mkdirSync(W + "/a"));
    t("mkdirSync no parent", () => fs.mkdirSync(W + "/no/x"));
    t("writeFileSync", () => fs.writeFileSync(W + "/a/f1.txt", "hello\n"));
    t("writeFileSync mode", () => fs.writeFileSync(W + "/a/b/run.sh", "#!/bin/sh\necho hi\n", { mode: 0o750 }));
    t("appendFileSync", () => fs.appendFileSync(W + "/a/f1.txt", "world\n"));
    t("writeFileSync relative", () => fs.writeFileSync("a/b/c/rel.txt", "relative\n"));
    t("writeFileSync wx existing", () => fs.writeFileSync(W + "/a/f1.txt", "x", { flag: "wx" }));
    t("readFileSync", () => fs.readFileSync(W + "/a/f1.txt", "utf8"));
    t("readFileSync relative", () => fs.readFileSync("a/b/c/rel.txt", "utf8"));
    t("readFileSync missing", () => fs.readFileSync(W + "/a/missing"));
    t("readFileSync dir", () => fs.readFileSync(W + "/a"));
    t("statSync file", () => st(fs.statSync(W + "/a/f1.txt")));
    t("statSync exec", () => st(fs.statSync(W + "/a/b/run.sh")));
    t("statSync dir", () => st(fs.statSync(W + "/a")));
    t("statSync missing", () => fs.statSync(W + "/zz"));
    t("statSync throwIfNoEntry", () => fs.statSync(W + "/zz", { throwIfNoEntry: false }));
    t("lstatSync file", () => st(fs.lstatSync(W + "/a/f1.txt")));
    t("existsSync file", () => fs.existsSync(W + "/a/f1.txt"));
    t("existsSync dir", () => fs.existsSync(W + "/a/b/c"));
    t("existsSync relative", () => fs.existsSync("a/b"));
    t("existsSync missing", () => fs.existsSync(W + "/a/nothing"));
    t("accessSync X_OK", () => fs.accessSync(W + "/a/b/run.sh", fs.constants.X_OK));
    t("accessSync X_OK on f1", () => fs.accessSync(W + "/a/f1.txt", fs.constants.X_OK));
    t("readdirSync", () => sorted(fs.readdirSync(W + "/a")));
    t("readdirSync withFileTypes", () => dirents(fs.readdirSync(W + "/a", { withFileTypes: true })));
    t("readdirSync recursive", () => sorted(fs.readdirSync(W, { recursive: true })));
    t("readdirSync missing", () => fs.readdirSync(W + "/nope"));
    t("symlinkSync", () => fs.symlinkSync("f1.txt", W + "/a/link"));
    t("readlinkSync", () => fs.readlinkSync(W + "/a/link"));
    t("lstatSync link", () => st(fs.lstatSync(W + "/a/link")));
    t("statSync through link", () => st(fs.statSync(W + "/a/link")));
    t("realpathSync", () => path.relative(W, fs.realpathSync(W + "/a/b/../link")));
    t("copyFileSync", () => fs.copyFileSync(W + "/a/f1.txt", W + "/a/copy.txt"));
    t("renameSync", () => fs.renameSync(W + "/a/copy.txt", W + "/a/b/moved.txt"));
    t("renameSync missing", () => fs.renameSync(W + "/a/none", W + "/a/none2"));
    t("renameSync dir", () => fs.renameSync(W + "/a/b/c", W + "/a/c2"));
    t("read after rename", () => fs.readFileSync(W + "/a/b/moved.txt", "utf8"));
    t("truncateSync", () => fs.truncateSync(W + "/a/b/moved.txt", 3));
    t("chmodSync", () => fs.chmodSync(W + "/a/b/moved.txt", 0o600));
    t("stat after chmod", () => st(fs.statSync(W + "/a/b/moved.txt")));
    t("openSync/writeSync/fstatSync", () => {
        const fd = fs.openSync(W + "/a/fd.txt", "w+");
        fs.writeSync(fd, "via fd");
        const s = st(fs.fstatSync(fd));
        fs.closeSync(fd);
        return s;
    });
    t("unlinkSync", () => fs.unlinkSync(W + "/a/fd.txt"));
    t("unlinkSync missing", () => fs.unlinkSync(W + "/a/fd.txt"));
    t("rmdirSync not empty", () => fs.rmdirSync(W + "/a"));
    fs.mkdirSync(W + "/tree/x/y/z", { recursive: true });
    for (const f of ["tree/1", "tree/x/2", "tree/x/y/3", "tree/x/y/z/4"]) fs.writeFileSync(W + "/" + f, f);
    t("rmSync recursive", () => fs.rmSync(W + "/tree", { recursive: true }));
    t("existsSync after rmSync", () => fs.existsSync(W + "/tree"));
    t("rmSync missing force", () => fs.rmSync(W + "/tree", { recursive: true, force: true }));
    t("rmSync missing", () => fs.rmSync(W + "/tree"));

    // ---- promises ----
    await ta("p.mkdir recursive", () => fsp.mkdir(W + "/p/q/r", { recursive: true }));
    await ta("p.writeFile", () => fsp.writeFile(W + "/p/q/x.txt", "promised\n"));
    await ta("p.appendFile", () => fsp.appendFile(W + "/p/q/x.txt", "more\n"));
    await ta("p.readFile", () => fsp.readFile(W + "/p/q/x.txt", "utf8"));
    await ta("p.readFile missing", () => fsp.readFile(W + "/p/none"));
    await ta("p.stat", async () => st(await fsp.stat(W + "/p/q/x.txt")));
    await ta("p.lstat dir", async () => st(await fsp.lstat(W + "/p/q")));
    await ta("p.stat missing", () => fsp.stat(W + "/p/none"));
    await ta("p.access", () => fsp.access(W + "/p/q/x.txt"));
    await ta("p.readdir", async () => sorted(await fsp.readdir(W + "/p/q")));
    await ta("p.readdir withFileTypes", async () => dirents(await fsp.readdir(W + "/p/q", { withFileTypes: true })));
    await ta("p.rename", () => fsp.rename(W + "/p/q/x.txt", W + "/p/y.txt"));
    await ta("p.copyFile", () => fsp.copyFile(W + "/p/y.txt", W + "/p/z.txt"));
    await ta("p.symlink", () => fsp.symlink("y.txt", W + "/p/ln"));
    await ta("p.readlink", () => fsp.readlink(W + "/p/ln"));
    await ta("p.realpath", async () => path.relative(W, await fsp.realpath(W + "/p/ln")));
    await ta("p.unlink", () => fsp.unlink(W + "/p/z.txt"));
    await ta("p.open/write/close", async () => {
        const h = await fsp.open(W + "/p/handle.txt", "w");
        await h.write("handle\n");
        const s = st(await h.stat());
        await h.close();
        return s;
    });
    await ta("p.rm recursive", () => fsp.rm(W + "/p/q", { recursive: true }));
    await ta("p.rmdir missing", () => fsp.rmdir(W + "/p/q"));
    await ta("p.mkdtemp", async () => {
        const d = await fsp.mkdtemp(W + "/p/tmp-");
        await Bun.write(d + "/in-temp.txt", "t");
        const r = [path.basename(d).length, fs.readdirSync(d).join()];
        await fsp.rm(d, { recursive: true });
        return r;
    });

    // ---- Bun.write / Bun.file ----
    await ta("Bun.write string", () => Bun.write(W + "/bun/one.txt", "bun one\n"));
    await ta("Bun.write deep (creates dirs)", () => Bun.write(W + "/bun/deep/er/two.txt", "bun two\n"));
    await ta("Bun.write bytes", () => Bun.write(W + "/bun/bytes.bin", new Uint8Array([0, 1, 2, 3, 255])));
    await ta("Bun.write from Bun.file", () => Bun.write(W + "/bun/copy.txt", Bun.file(W + "/bun/one.txt")));
    await ta("Bun.write Response", () => Bun.write(W + "/bun/resp.txt", new Response("from a response\n")));
    await ta("Bun.file text", () => Bun.file(W + "/bun/deep/er/two.txt").text());
    await ta("Bun.file exists", () => Bun.file(W + "/bun/one.txt").exists());
    await ta("Bun.file exists missing", () => Bun.file(W + "/bun/nope.txt").exists());
    t("Bun.file size", () => Bun.file(W + "/bun/bytes.bin").size);
    await ta("Bun.file arrayBuffer", async () => new Uint8Array(await Bun.file(W + "/bun/bytes.bin").arrayBuffer()).join(","));
    await ta("Bun.file json", async () => {
        await Bun.write(W + "/bun/data.json", JSON.stringify({ a: 1, b: [2, 3] }));
        return JSON.stringify(await Bun.file(W + "/bun/data.json").json());
    });
    await ta("Bun.file missing text", () => Bun.file(W + "/bun/nope.txt").text());
    await ta("Bun.file writer", async () => {
        const w = Bun.file(W + "/bun/writer.txt").writer();
        w.write("line 1\n");
        w.write("line 2\n");
        await w.end();
        return await Bun.file(W + "/bun/writer.txt").text();
    });
    await ta("Bun.file stream", async () => {
        let n = 0;
        for await (const chunk of Bun.file(W + "/bun/one.txt").stream()) n += chunk.length;
        return n;
    });
    await ta("Bun.file delete", () => Bun.file(W + "/bun/copy.txt").delete());

    // ---- cwd ----
    t("chdir", () => process.chdir(W + "/a"));
    t("cwd", () => path.relative(W, process.cwd()));
    t("read relative after chdir", () => fs.readFileSync("f1.txt", "utf8"));
    await ta("Bun.write relative after chdir", () => Bun.write("rel-bun.txt", "rel\n"));
    t("final listing", () => sorted(fs.readdirSync(W, { recursive: true })));
})();
