#!/bin/bash
# node (v20) on the prefix behaves as on a real directory: the fs sync API, fs.promises, streams,
# child_process with a cwd in the prefix, require() of modules stored there, process.chdir, and
# the agreement of a path stat with an fstat of an fd opened on that path.
#
# Each scenario is a bash script run by `parity` (once in a real directory, once in /sm/w-NAME);
# the JavaScript is fed to `node -` on stdin (so it holds no single quote). Output is made
# deterministic: directory listings are sorted (readdir order is the filesystem's, not part of
# the contract); absolute paths are printed as they are ($W is substituted by parity).
#
# Normalised on purpose: inode numbers, device numbers and times differ between two distinct
# directories by nature, so they are never printed; what is printed is whether two views of the
# SAME object agree (stat vs fstat, node vs coreutils `stat`, ...). Those comparisons print
# true/false, so a disagreement under the shim shows as an output difference.
. "$(dirname "$0")/../lib/common.sh"
need node
# Under ThreadSanitizer's preloaded runtime node 20 did not finish (the test hit its 900 s
# timeout, and TSan reported races inside V8's own platform threads, which are not built with
# it); node parity runs in the normal and AddressSanitizer builds.
[ "${SMSHIM_SAN:-}" = thread ] && skip "node does not run under ThreadSanitizer's preloaded runtime"

# Helpers shared by every scenario (a real file outside the prefix, so they are not part of the
# compared trees): H = require(process.env.NODE_H).
NODE_H="$T/node-helpers.js"
cat >"$NODE_H" <<'EOF'
const fs = require("fs");
// One line describing a Stats object, without inode, device or times.
function st(s) {
    const t = s.isFile() ? "file" : s.isDirectory() ? "dir" : s.isSymbolicLink() ? "link" : "other";
    // a directory's size is the filesystem's business (block multiple); print it for files only
    return `${t} mode=${(s.mode & 0o7777).toString(8)} nlink=${s.nlink}` +
        (t === "dir" ? "" : ` size=${s.size}`);
}
// Run fn, print label and its result or the error's code/syscall/message.
function t(label, fn) {
    try {
        const r = fn();
        console.log(label, "->", r === undefined ? "undefined" : typeof r === "string" ? JSON.stringify(r) : r);
    } catch (e) {
        console.log(label, "!!", e.code, e.syscall, e.message);
    }
}
async function ta(label, fn) {
    try {
        const r = await fn();
        console.log(label, "->", r === undefined ? "undefined" : typeof r === "string" ? JSON.stringify(r) : r);
    } catch (e) {
        console.log(label, "!!", e.code, e.syscall, e.message);
    }
}
function dirents(list) {
    return list.map(d => d.name + ":" + (d.isFile() ? "f" : d.isDirectory() ? "d" : d.isSymbolicLink() ? "l" : "?"))
        .sort().join(" ");
}
module.exports = { st, t, ta, dirents };
EOF
export NODE_H

# ---- the synchronous fs API ----------------------------------------------------------------
parity node_fs_sync '
node - <<"EOF"
const fs = require("fs"), path = require("path");
const { st, t, dirents } = require(process.env.NODE_H);
const W = process.env.W;
t("mkdirSync recursive", () => fs.mkdirSync(W + "/a/b/c", { recursive: true }));
t("mkdirSync recursive again", () => fs.mkdirSync(W + "/a/b/c", { recursive: true }));
t("mkdirSync existing", () => fs.mkdirSync(W + "/a"));
t("mkdirSync relative", () => fs.mkdirSync("rel/x", { recursive: true }));
t("mkdirSync no parent", () => fs.mkdirSync(W + "/nope/x"));
t("writeFileSync", () => fs.writeFileSync(W + "/a/f1.txt", "hello\n"));
t("writeFileSync mode", () => fs.writeFileSync(W + "/a/b/exec.sh", "#!/bin/sh\necho hi\n", { mode: 0o750 }));
t("appendFileSync", () => fs.appendFileSync(W + "/a/f1.txt", "world\n"));
t("appendFileSync new", () => fs.appendFileSync("a/b/c/new.log", "line1\n"));
t("appendFileSync again", () => fs.appendFileSync("a/b/c/new.log", "line2\n"));
t("writeFileSync flag wx existing", () => fs.writeFileSync(W + "/a/f1.txt", "x", { flag: "wx" }));
t("readFileSync", () => fs.readFileSync(W + "/a/f1.txt", "utf8"));
t("readFileSync relative", () => fs.readFileSync("a/b/c/new.log", "utf8"));
t("readFileSync buffer length", () => fs.readFileSync(W + "/a/b/exec.sh").length);
t("readFileSync missing", () => fs.readFileSync(W + "/a/missing"));
t("readFileSync dir", () => fs.readFileSync(W + "/a"));
t("statSync file", () => st(fs.statSync(W + "/a/f1.txt")));
t("statSync exec", () => st(fs.statSync(W + "/a/b/exec.sh")));
t("statSync dir", () => st(fs.statSync(W + "/a")));
t("statSync W", () => st(fs.statSync(W)));
t("statSync isFile/isDirectory/size", () => { const s = fs.statSync("a/f1.txt"); return [s.isFile(), s.isDirectory(), s.size].join(","); });
t("statSync dir isFile/isDirectory", () => { const s = fs.statSync(W + "/a/b"); return [s.isFile(), s.isDirectory()].join(","); });
t("statSync missing", () => fs.statSync(W + "/zz"));
t("statSync throwIfNoEntry", () => fs.statSync(W + "/zz", { throwIfNoEntry: false }));
t("existsSync file", () => fs.existsSync(W + "/a/f1.txt"));
t("existsSync dir", () => fs.existsSync(W + "/a/b/c"));
t("existsSync rel", () => fs.existsSync("a/b"));
t("existsSync missing", () => fs.existsSync(W + "/a/nothing"));
t("accessSync X_OK", () => fs.accessSync(W + "/a/b/exec.sh", fs.constants.X_OK));
t("accessSync X_OK on f1", () => fs.accessSync(W + "/a/f1.txt", fs.constants.X_OK));
// symbolic links, relative and absolute
t("symlinkSync rel", () => fs.symlinkSync("b/c", W + "/a/lnk"));
t("symlinkSync abs", () => fs.symlinkSync(W + "/a/f1.txt", W + "/abs"));
t("symlinkSync dangling", () => fs.symlinkSync("nowhere", W + "/dangle"));
t("symlinkSync existing", () => fs.symlinkSync("x", W + "/abs"));
t("readlinkSync rel", () => fs.readlinkSync(W + "/a/lnk"));
t("readlinkSync abs", () => fs.readlinkSync(W + "/abs"));
t("readlinkSync dangling", () => fs.readlinkSync("dangle"));
t("readlinkSync on file", () => fs.readlinkSync(W + "/a/f1.txt"));
t("lstatSync rel link", () => st(fs.lstatSync(W + "/a/lnk")));
// The size of an absolute link is the length of $W/a/f1.txt, which differs between the two runs
// ($W differs); what must hold in both is that the st_size of a link is the length readlink returns.
t("lstatSync abs link", () => st(fs.lstatSync(W + "/abs")).replace(/ size=\d+/, ""));
t("lstatSync abs link size == readlink length", () => fs.lstatSync(W + "/abs").size === Buffer.byteLength(fs.readlinkSync(W + "/abs")));
t("lstatSync isSymbolicLink", () => fs.lstatSync(W + "/a/lnk").isSymbolicLink());
t("lstatSync file", () => st(fs.lstatSync(W + "/a/f1.txt")));
t("statSync through link", () => st(fs.statSync(W + "/abs")));
t("statSync through dir link", () => st(fs.statSync(W + "/a/lnk")));
t("statSync dangling", () => fs.statSync(W + "/dangle"));
t("lstatSync dangling", () => fs.lstatSync(W + "/dangle").isSymbolicLink());
t("existsSync dangling", () => fs.existsSync(W + "/dangle"));
t("read through dir link", () => fs.readFileSync(W + "/a/lnk/new.log", "utf8"));
t("read through abs link", () => fs.readFileSync("abs", "utf8"));
t("realpathSync file", () => fs.realpathSync(W + "/a/b/../f1.txt"));
t("realpathSync link", () => fs.realpathSync(W + "/abs"));
t("realpathSync dir link", () => fs.realpathSync(W + "/a/lnk/new.log"));
t("realpathSync rel", () => fs.realpathSync("a/lnk"));
t("realpathSync dot", () => fs.realpathSync("."));
t("realpathSync missing", () => fs.realpathSync(W + "/a/none"));
t("realpathSync.native file", () => fs.realpathSync.native(W + "/a/b/../f1.txt"));
t("realpathSync.native link", () => fs.realpathSync.native(W + "/abs"));
t("realpathSync.native dir link", () => fs.realpathSync.native(W + "/a/lnk/new.log"));
t("realpathSync.native rel", () => fs.realpathSync.native("a/lnk"));
t("realpathSync.native dot", () => fs.realpathSync.native("."));
t("realpathSync.native missing", () => fs.realpathSync.native(W + "/a/none"));
// listings
t("readdirSync W", () => fs.readdirSync(W).sort().join(" "));
t("readdirSync withFileTypes", () => dirents(fs.readdirSync(W, { withFileTypes: true })));
t("readdirSync withFileTypes a", () => dirents(fs.readdirSync(W + "/a", { withFileTypes: true })));
t("readdirSync rel", () => fs.readdirSync("a/b").sort().join(" "));
t("readdirSync through link", () => fs.readdirSync(W + "/a/lnk").sort().join(" "));
t("readdirSync recursive", () => fs.readdirSync(W + "/a", { recursive: true }).sort().join(" "));
t("readdirSync file", () => fs.readdirSync(W + "/a/f1.txt"));
t("readdirSync missing", () => fs.readdirSync(W + "/nodir"));
t("opendirSync iteration", () => {
    const d = fs.opendirSync(W + "/a");
    const out = [];
    let e;
    while ((e = d.readSync()) !== null)
        out.push(e.name + ":" + (e.isDirectory() ? "d" : e.isFile() ? "f" : e.isSymbolicLink() ? "l" : "?"));
    d.closeSync();
    return d.path + " " + out.sort().join(" ");
});
t("opendirSync missing", () => fs.opendirSync(W + "/nodir"));
// copies
t("copyFileSync", () => fs.copyFileSync(W + "/a/f1.txt", W + "/a/f1.copy"));
t("copyFileSync read", () => fs.readFileSync(W + "/a/f1.copy", "utf8"));
t("copyFileSync EXCL", () => fs.copyFileSync(W + "/a/f1.txt", W + "/a/f1.copy", fs.constants.COPYFILE_EXCL));
t("copyFileSync rel", () => fs.copyFileSync("a/b/exec.sh", "rel/exec.copy"));
t("copyFileSync missing", () => fs.copyFileSync(W + "/a/none", W + "/a/x"));
t("cpSync recursive", () => fs.cpSync(W + "/a", W + "/acopy", { recursive: true }));
t("cpSync tree", () => fs.readdirSync(W + "/acopy", { recursive: true }).sort().join(" "));
t("cpSync link kept", () => fs.readlinkSync(W + "/acopy/lnk"));
t("cpSync content", () => fs.readFileSync(W + "/acopy/b/c/new.log", "utf8"));
t("cpSync mode", () => st(fs.statSync(W + "/acopy/b/exec.sh")));
t("cpSync dir into itself", () => fs.cpSync(W + "/a", W + "/a/b/inside", { recursive: true }));
// renames
t("renameSync file", () => fs.renameSync(W + "/a/f1.copy", W + "/a/f1.moved"));
t("renameSync dir", () => fs.renameSync(W + "/acopy", W + "/amoved"));
t("renameSync rel", () => fs.renameSync("rel/exec.copy", "rel/x/exec.moved"));
t("renameSync over file", () => fs.renameSync(W + "/a/f1.moved", W + "/a/b/c/new.log"));
t("renameSync missing", () => fs.renameSync(W + "/a/none", W + "/a/x"));
t("renameSync dir over nonempty", () => fs.renameSync(W + "/rel", W + "/amoved"));
t("after renames", () => fs.readdirSync(W, { recursive: true }).sort().join(" "));
t("renamed content", () => fs.readFileSync(W + "/a/b/c/new.log", "utf8"));
// removals
t("unlinkSync", () => fs.unlinkSync(W + "/amoved/f1.txt"));
t("unlinkSync link", () => fs.unlinkSync(W + "/dangle"));
t("unlinkSync missing", () => fs.unlinkSync(W + "/amoved/f1.txt"));
t("unlinkSync dir", () => fs.unlinkSync(W + "/amoved"));
t("rmdirSync nonempty", () => fs.rmdirSync(W + "/amoved"));
t("rmSync dir without recursive", () => fs.rmSync(W + "/amoved"));
t("rmSync recursive", () => fs.rmSync(W + "/amoved", { recursive: true }));
t("rmSync recursive missing", () => fs.rmSync(W + "/amoved", { recursive: true }));
t("rmSync force missing", () => fs.rmSync(W + "/amoved", { recursive: true, force: true }));
t("rmSync file", () => fs.rmSync("rel/x/exec.moved"));
t("existsSync removed", () => [fs.existsSync(W + "/amoved"), fs.existsSync("rel/x/exec.moved")].join(","));
t("final", () => dirents(fs.readdirSync(W, { withFileTypes: true })));
EOF
echo "exit $?"
ls -la --time-style=+ a | awk "NR>1 {print \$1, \$2, \$5, \$NF}"
'

# ---- fs.promises -----------------------------------------------------------------------------
parity node_fs_promises '
node - <<"EOF"
const fsp = require("fs/promises"), fs = require("fs");
const { st, ta, dirents } = require(process.env.NODE_H);
const W = process.env.W;
(async () => {
    await ta("mkdir recursive", () => fsp.mkdir(W + "/p/q/r", { recursive: true }));
    await ta("mkdir existing", () => fsp.mkdir(W + "/p"));
    await ta("mkdir relative", () => fsp.mkdir("rel"));
    await ta("writeFile", () => fsp.writeFile(W + "/p/one.txt", "one\n"));
    await ta("writeFile rel", () => fsp.writeFile("p/q/two.txt", Buffer.from("two\n2\n")));
    await ta("writeFile no dir", () => fsp.writeFile(W + "/none/x", "x"));
    await ta("appendFile", () => fsp.appendFile(W + "/p/one.txt", "more\n"));
    await ta("readFile", () => fsp.readFile(W + "/p/one.txt", "utf8"));
    await ta("readFile rel", () => fsp.readFile("p/q/two.txt", "utf8"));
    await ta("readFile missing", () => fsp.readFile(W + "/p/zz"));
    await ta("readdir", async () => (await fsp.readdir(W + "/p")).sort().join(" "));
    await ta("readdir withFileTypes", async () => dirents(await fsp.readdir(W + "/p", { withFileTypes: true })));
    await ta("readdir recursive", async () => (await fsp.readdir(W, { recursive: true })).sort().join(" "));
    await ta("readdir missing", () => fsp.readdir(W + "/nodir"));
    await ta("stat file", async () => st(await fsp.stat(W + "/p/one.txt")));
    await ta("stat dir", async () => st(await fsp.stat("p/q")));
    await ta("stat missing", () => fsp.stat(W + "/zz"));
    await ta("lstat", async () => st(await fsp.lstat(W + "/p/q/two.txt")));
    await ta("access", () => fsp.access(W + "/p/one.txt"));
    await ta("access missing", () => fsp.access(W + "/p/zz"));
    await ta("symlink", () => fsp.symlink("q/two.txt", W + "/p/l"));
    await ta("readlink", () => fsp.readlink(W + "/p/l"));
    await ta("realpath", () => fsp.realpath(W + "/p/l"));
    await ta("cp recursive", () => fsp.cp(W + "/p", W + "/pc", { recursive: true }));
    await ta("cp tree", async () => (await fsp.readdir(W + "/pc", { recursive: true })).sort().join(" "));
    await ta("cp link", () => fsp.readlink(W + "/pc/l"));
    await ta("cp file", () => fsp.cp(W + "/p/one.txt", "rel/one.cp"));
    await ta("cp dir no recursive", () => fsp.cp(W + "/p", W + "/pd"));
    await ta("copyFile", () => fsp.copyFile(W + "/p/one.txt", W + "/p/one.bak"));
    await ta("rename file", () => fsp.rename(W + "/p/one.bak", W + "/pc/one.moved"));
    await ta("rename dir", () => fsp.rename(W + "/pc/q", W + "/q2"));
    await ta("rename missing", () => fsp.rename(W + "/pc/q", W + "/q3"));
    await ta("after rename", async () => (await fsp.readdir(W, { recursive: true })).sort().join(" "));
    await ta("rm file", () => fsp.rm(W + "/pc/one.txt"));
    await ta("rm dir no recursive", () => fsp.rm(W + "/q2"));
    await ta("rm recursive", () => fsp.rm(W + "/q2", { recursive: true }));
    await ta("rm missing", () => fsp.rm(W + "/q2", { recursive: true }));
    await ta("rm force", () => fsp.rm(W + "/q2", { recursive: true, force: true }));
    await ta("rmdir nonempty", () => fsp.rmdir(W + "/p"));
    await ta("opendir async", async () => {
        const out = [];
        for await (const e of await fsp.opendir(W + "/p")) out.push(e.name);
        return out.sort().join(" ");
    });
    await ta("filehandle", async () => {
        const fh = await fsp.open(W + "/p/fh.txt", "w+");
        await fh.write("abcdef");
        await fh.truncate(4);
        const s = await fh.stat();
        const b = Buffer.alloc(10);
        const { bytesRead } = await fh.read(b, 0, 10, 0);
        await fh.close();
        return st(s) + " " + b.toString("utf8", 0, bytesRead);
    });
    await ta("truncate", () => fsp.truncate(W + "/p/one.txt", 3));
    await ta("chmod", () => fsp.chmod(W + "/p/one.txt", 0o600));
    await ta("mkdtemp", async () => { const d = await fsp.mkdtemp(W + "/tmp-"); const s = await fsp.stat(d); await fsp.rmdir(d); return d.length === (W + "/tmp-XXXXXX").length && s.isDirectory(); });
    await ta("final", async () => dirents(await fsp.readdir(W, { withFileTypes: true })));
})();
EOF
echo "exit $?"
'

# ---- streams ---------------------------------------------------------------------------------
parity node_streams '
node - <<"EOF"
const fs = require("fs"), { pipeline } = require("stream/promises");
const W = process.env.W;
function drain(rs) {
    return new Promise((res, rej) => {
        const chunks = [];
        rs.on("data", c => chunks.push(c.length));
        rs.on("error", e => res("error " + e.code + " " + e.message));
        rs.on("end", () => res(chunks.join(",")));
    });
}
function readAll(rs) {
    return new Promise(res => { let s = ""; rs.setEncoding("utf8"); rs.on("data", c => s += c); rs.on("end", () => res(s)); rs.on("error", e => res("error " + e.code)); });
}
(async () => {
    fs.mkdirSync(W + "/s");
    const ws = fs.createWriteStream(W + "/s/big.txt");
    for (let i = 0; i < 2000; i++) ws.write(`line ${i} ${"x".repeat(i % 50)}\n`);
    await new Promise(r => ws.end("tail\n", r));
    console.log("written", ws.bytesWritten, ws.path);
    console.log("size", fs.statSync(W + "/s/big.txt").size);
    console.log("chunks", await drain(fs.createReadStream(W + "/s/big.txt", { highWaterMark: 16384 })));
    console.log("range", JSON.stringify(await readAll(fs.createReadStream("s/big.txt", { start: 10, end: 40 }))));
    const as = fs.createWriteStream(W + "/s/big.txt", { flags: "a" });
    await new Promise(r => as.end("appended\n", r));
    console.log("after append", fs.statSync(W + "/s/big.txt").size);
    await pipeline(fs.createReadStream(W + "/s/big.txt"), fs.createWriteStream("s/copy.txt"));
    console.log("pipeline equal", fs.readFileSync(W + "/s/copy.txt").equals(fs.readFileSync(W + "/s/big.txt")));
    const gz = require("zlib");
    await pipeline(fs.createReadStream(W + "/s/big.txt"), gz.createGzip({ level: 9 }), fs.createWriteStream(W + "/s/big.gz"));
    console.log("gunzip equal", gz.gunzipSync(fs.readFileSync(W + "/s/big.gz")).equals(fs.readFileSync(W + "/s/big.txt")));
    console.log("missing", await drain(fs.createReadStream(W + "/s/none")));
    const bad = fs.createWriteStream(W + "/nodir/x");
    console.log("bad write", await new Promise(r => bad.on("error", e => r(e.code + " " + e.message))));
    const fd = fs.openSync(W + "/s/fd.txt", "w");
    const fws = fs.createWriteStream(null, { fd });
    await new Promise(r => fws.end("via fd\n", r));
    console.log("fd stream", JSON.stringify(fs.readFileSync(W + "/s/fd.txt", "utf8")));
})();
EOF
echo "exit $?"
'

# ---- child_process with a cwd in the prefix ------------------------------------------------
parity node_child '
mkdir -p sub/deeper && echo content > sub/file && printf "#!/bin/sh\necho script \"\$0\" in \$(pwd)\n" > sub/run.sh && chmod +x sub/run.sh
node - <<"EOF"
const cp = require("child_process"), fs = require("fs");
const { t } = require(process.env.NODE_H);
const W = process.env.W;
const out = r => (r.error ? "error " + r.error.code : "") + " status=" + r.status + " out=" + JSON.stringify(String(r.stdout)) + " err=" + JSON.stringify(String(r.stderr));
t("spawnSync pwd", () => out(cp.spawnSync("pwd", { cwd: W + "/sub" })));
t("spawnSync pwd -P", () => out(cp.spawnSync("pwd", ["-P"], { cwd: W + "/sub/deeper" })));
t("spawnSync /bin/pwd rel cwd", () => out(cp.spawnSync("/bin/pwd", { cwd: "sub" })));
t("spawnSync cat rel", () => out(cp.spawnSync("cat", ["file"], { cwd: W + "/sub" })));
t("spawnSync missing cwd", () => out(cp.spawnSync("pwd", { cwd: W + "/nodir" })));
t("execSync ls", () => JSON.stringify(cp.execSync("ls", { cwd: W + "/sub" }).toString()));
t("execSync ls -a", () => JSON.stringify(cp.execSync("ls -a; echo $PWD; pwd -P", { cwd: W + "/sub/deeper" }).toString()));
t("execSync shell writes", () => cp.execSync("echo made > made.txt && cat made.txt", { cwd: W + "/sub" }).toString());
t("execFileSync script in prefix", () => cp.execFileSync(W + "/sub/run.sh", { cwd: W + "/sub/deeper" }).toString());
t("execFileSync script rel", () => cp.execFileSync("./run.sh", { cwd: W + "/sub" }).toString());
t("spawnSync node child", () => out(cp.spawnSync(process.execPath, ["-e", "console.log(process.cwd(), require(\"fs\").readdirSync(\".\").sort().join(\",\"))"], { cwd: W + "/sub" })));
t("execSync failing", () => cp.execSync("ls nothing-here", { cwd: W + "/sub", stdio: "pipe" }));
t("made", () => fs.readFileSync(W + "/sub/made.txt", "utf8"));
cp.exec("pwd && ls", { cwd: W + "/sub" }, (e, so, se) => console.log("exec async", e, JSON.stringify(so), JSON.stringify(se)));
EOF
echo "exit $?"
'

# ---- require() of modules and packages stored in the prefix --------------------------------
parity node_require '
mkdir -p lib node_modules/pkg/src node_modules/@sc/two other
cat > lib/mod.js <<"EOF"
const helper = require("./helper");
exports.name = "mod";
exports.file = __filename;
exports.dir = __dirname;
exports.helper = helper();
EOF
echo "module.exports = () => \"helper of \" + require(\"path\").basename(__filename);" > lib/helper.js
echo "{\"name\":\"pkg\",\"version\":\"1.2.3\",\"main\":\"src/entry.js\"}" > node_modules/pkg/package.json
echo "module.exports = { pkg: true, file: __filename, json: require(\"./data.json\") };" > node_modules/pkg/src/entry.js
echo "{\"k\": [1, 2, 3]}" > node_modules/pkg/src/data.json
echo "{\"name\":\"@sc/two\",\"main\":\"./lib\"}" > node_modules/@sc/two/package.json
mkdir -p node_modules/@sc/two/lib && echo "module.exports = \"two/\" + require(\"path\").basename(__filename);" > node_modules/@sc/two/lib/index.js
echo "export const v = \"esm\"; export const url = import.meta.url;" > lib/m.mjs
ln -s ../lib other/linked
echo "module.exports = require(\"pkg\").pkg && \"found pkg from other\";" > other/uses.js
node - <<"EOF"
const { t, ta } = require(process.env.NODE_H);
const W = process.env.W, path = require("path");
t("require abs module", () => JSON.stringify(require(W + "/lib/mod.js")));
t("require rel module", () => require("./lib/mod").name);
t("require.resolve rel", () => require.resolve("./lib/helper"));
t("require package", () => JSON.stringify(require("pkg")));
t("require.resolve package", () => require.resolve("pkg"));
t("require package by path", () => require(W + "/node_modules/pkg").file);
t("require scoped package dir main", () => require("@sc/two"));
t("require through symlinked dir", () => require(W + "/other/linked/mod.js").file);
t("require from other dir", () => require(W + "/other/uses.js"));
t("require missing", () => require(W + "/lib/none"));
t("require missing package", () => require("nopkg"));
t("createRequire", () => require("module").createRequire(W + "/lib/x.js")("./helper")());
t("cache keys", () => Object.keys(require.cache).filter(k => k.startsWith(W)).map(k => path.relative(W, k)).sort().join(" "));
ta("import esm", async () => { const m = await import(W + "/lib/m.mjs"); return m.v + " " + m.url; });
EOF
echo "exit $?"
cd other && node -e "console.log(require(\"pkg\").json.k.join(\"+\"), require.resolve(\"pkg\"))"
node "$W/lib/mod.js" && echo "ran mod as main"
echo "console.log(\"main\", __filename, process.argv[1], require.main === module)" > ../lib/main.js
node ../lib/main.js
'

# ---- process.chdir into the prefix -----------------------------------------------------------
parity node_chdir '
mkdir -p d/e/f && echo in-d > d/r.txt && echo in-e > d/e/r.txt && ln -s d/e ln-e
cd /
node - <<"EOF"
const fs = require("fs");
const { t } = require(process.env.NODE_H);
const W = process.env.W;
t("cwd at start", () => process.cwd());
t("chdir abs", () => process.chdir(W + "/d"));
t("cwd", () => process.cwd());
t("read rel", () => fs.readFileSync("r.txt", "utf8"));
t("readdir .", () => fs.readdirSync(".").sort().join(" "));
t("stat rel dir", () => fs.statSync("e").isDirectory());
t("realpath .", () => fs.realpathSync("."));
t("realpath.native .", () => fs.realpathSync.native("."));
t("path.resolve", () => require("path").resolve("e/r.txt"));
t("chdir rel", () => process.chdir("e"));
t("cwd", () => process.cwd());
t("read rel", () => fs.readFileSync("r.txt", "utf8"));
t("read ..", () => fs.readFileSync("../r.txt", "utf8"));
t("chdir ..", () => process.chdir("../.."));
t("cwd", () => process.cwd());
t("write rel", () => fs.writeFileSync("written.txt", "from chdir\n"));
t("chdir via link", () => process.chdir("ln-e"));
t("cwd", () => process.cwd());
t("realpath . via link", () => fs.realpathSync("."));
t("realpath.native . via link", () => fs.realpathSync.native("."));
t("read .. via link", () => fs.readdirSync("..").sort().join(" "));
t("chdir missing", () => process.chdir(W + "/nodir"));
t("chdir file", () => process.chdir(W + "/d/r.txt"));
t("cwd unchanged", () => process.cwd());
t("child inherits", () => require("child_process").execSync("pwd; cat r.txt").toString());
t("chdir out", () => process.chdir("/"));
t("cwd /", () => process.cwd());
t("read abs after out", () => fs.readFileSync(W + "/written.txt", "utf8"));
EOF
echo "exit $?"
'

# ---- stat vs fstat: one object, one identity -------------------------------------------------
parity node_stat_identity '
mkdir -p dir/sub && printf "0123456789" > dir/file && ln -s file dir/link
node - <<"EOF"
const fs = require("fs"), cp = require("child_process");
const { t } = require(process.env.NODE_H);
const W = process.env.W;
const F = ["ino", "dev", "size", "mode", "nlink", "uid", "gid", "mtimeMs", "ctimeMs", "blocks"];
function same(a, b) {
    const bad = F.filter(k => a[k] !== b[k]);
    return bad.length ? "DIFFER in " + bad.join(",") : "same";
}
for (const p of [W + "/dir/file", W + "/dir", W + "/dir/sub", "dir/file", "dir", W + "/dir/link"]) {
    t("stat/fstat " + p, () => { const fd = fs.openSync(p, "r"); const r = same(fs.statSync(p), fs.fstatSync(fd)); fs.closeSync(fd); return r; });
    t("stat/fstat bigint " + p, () => {
        const fd = fs.openSync(p, "r");
        const a = fs.statSync(p, { bigint: true }), b = fs.fstatSync(fd, { bigint: true });
        fs.closeSync(fd);
        return ["ino", "dev", "size", "mtimeNs", "ctimeNs"].filter(k => a[k] !== b[k]).join(",") || "same";
    });
}
t("stat vs lstat file", () => same(fs.statSync(W + "/dir/file"), fs.lstatSync(W + "/dir/file")));
t("stat link vs stat target", () => same(fs.statSync(W + "/dir/link"), fs.statSync(W + "/dir/file")));
t("lstat link differs from target", () => fs.lstatSync(W + "/dir/link").ino !== fs.statSync(W + "/dir/file").ino);
(async () => {
    const fh = await fs.promises.open(W + "/dir/file");
    console.log("async stat/fstat", same(await fs.promises.stat(W + "/dir/file"), await fh.stat()));
    await fh.close();
    const dh = await fs.promises.open(W + "/dir");
    console.log("async dir stat/fstat", same(await fs.promises.stat(W + "/dir"), await dh.stat()));
    await dh.close();
    // node and a coreutils child agree on the identity of the same path
    const s = fs.statSync(W + "/dir/file"), d = fs.statSync(W + "/dir");
    const [fi, fd, di, dd] = cp.execFileSync("stat", ["-c", "%i %d", W + "/dir/file", W + "/dir"]).toString().trim().split(/\s+/);
    console.log("coreutils agrees file", String(s.ino) === fi && String(s.dev) === fd);
    console.log("coreutils agrees dir", String(d.ino) === di && String(d.dev) === dd);
    // a write through an fd is seen by a path stat at once
    const w = fs.openSync(W + "/dir/file", "a");
    fs.writeSync(w, "abc");
    console.log("after write", fs.statSync(W + "/dir/file").size, fs.fstatSync(w).size, same(fs.statSync(W + "/dir/file"), fs.fstatSync(w)));
    fs.closeSync(w);
    // the directory changes seen through both views
    const before = fs.statSync(W + "/dir").nlink;
    fs.mkdirSync(W + "/dir/sub2");
    const dfd = fs.openSync(W + "/dir", "r");
    console.log("dir nlink", before, fs.statSync(W + "/dir").nlink, fs.fstatSync(dfd).nlink, same(fs.statSync(W + "/dir"), fs.fstatSync(dfd)));
    fs.closeSync(dfd);
    // utimes set through a path is read back through an fd and the path
    fs.utimesSync(W + "/dir/file", 1000000000, 1234567890);
    const ufd = fs.openSync(W + "/dir/file", "r");
    console.log("utimes", fs.statSync(W + "/dir/file").mtimeMs, fs.fstatSync(ufd).mtimeMs, fs.statSync(W + "/dir/file").atimeMs);
    fs.closeSync(ufd);
})();
EOF
echo "exit $?"
'
