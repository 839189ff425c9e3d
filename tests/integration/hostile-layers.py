#!/usr/bin/env python3
"""hostile-layers.py - the hostile layers of hostile-layers.sh.

  gen OUT VICTIM      writes an OCI layout OUT holding, for every case, the
                      tags CASE-first (the hostile layer alone) and CASE-top
                      (the same layer on a benign lower one), plus `base` (the
                      lower layer alone) and OUT/cases.json (what each case
                      expects)
  check CASES LIST    LIST: lines "CASE POS ROOTFS OUTFILE"; checks each tree
                      against its case's expectations and writes a listing of
                      it to OUTFILE (to compare the drivers).  Prints one line
                      per failed check, "CASE POS: what".
  snap DIR [SKIP...]  a listing of everything under DIR (names, types, modes,
                      owners, sizes, link counts, times, xattrs, contents)
                      except the top-level names SKIP; files are read with
                      O_NOATIME so the listing does not disturb atimes

Every layer is built here, byte by byte where tarfile would refuse: names
that climb, symlinks and hardlinks out, whiteouts through symlinks, smuggled
overlay xattrs, type changes, sparse and size claims, broken headers.  The
victim directory VICTIM (beside the store) is what the layers aim at.
"""
import gzip
import hashlib
import io
import json
import os
import stat
import sys
import tarfile

UP = "../" * 24  # climbs above any store path


# ------------------------------------------------------------------ tar entries
def _ti(name, typ, mode, uid=0, gid=0, mtime=1700000000):
    ti = tarfile.TarInfo(name)
    ti.type = typ
    ti.mode = mode
    ti.uid, ti.gid, ti.mtime = uid, gid, mtime
    ti.uname = ti.gname = ""
    return ti


def F(name, data=b"x", mode=0o644, uid=0, gid=0, pax=None):
    if isinstance(data, str):
        data = data.encode()
    ti = _ti(name, tarfile.REGTYPE, mode, uid, gid)
    ti.size = len(data)
    if pax:
        ti.pax_headers = dict(pax)
    return ("ti", ti, data)


def D(name, mode=0o755, uid=0, gid=0, pax=None):
    ti = _ti(name, tarfile.DIRTYPE, mode, uid, gid)
    if pax:
        ti.pax_headers = dict(pax)
    return ("ti", ti, None)


def S(name, target, pax=None):
    ti = _ti(name, tarfile.SYMTYPE, 0o777)
    ti.linkname = target
    if pax:
        ti.pax_headers = dict(pax)
    return ("ti", ti, None)


def H(name, target):
    ti = _ti(name, tarfile.LNKTYPE, 0o644)
    ti.linkname = target
    return ("ti", ti, None)


def NODE(name, typ, major=0, minor=0, mode=0o644):
    ti = _ti(name, typ, mode)
    ti.devmajor, ti.devminor = major, minor
    return ("ti", ti, None)


def octal(n, width):
    return ("%0*o" % (width - 1, n)).encode() + b"\0"


def raw_header(name=b"", typ=b"0", size=0, linkname=b"", mode=0o644, bad_checksum=False,
               size_field=None):
    """A ustar header built by hand, for what tarfile will not write."""
    h = bytearray(512)
    h[0:len(name[:100])] = name[:100]
    h[100:108] = octal(mode, 8)
    h[108:116] = octal(0, 8)
    h[116:124] = octal(0, 8)
    h[124:136] = size_field if size_field is not None else octal(size, 12)
    h[136:148] = octal(1700000000, 12)
    h[148:156] = b" " * 8
    h[156:157] = typ
    h[157:157 + len(linkname[:100])] = linkname[:100]
    h[257:263] = b"ustar\0"
    h[263:265] = b"00"
    csum = sum(h) + (1 if bad_checksum else 0)
    h[148:156] = ("%06o" % csum).encode() + b"\0 "
    return bytes(h)


def RAW(data):
    return ("raw", data, None)


def pad(data):
    return data + b"\0" * ((512 - len(data) % 512) % 512)


def build_tar(entries, fmt=tarfile.PAX_FORMAT, end=True):
    out = io.BytesIO()
    tf = tarfile.TarFile(fileobj=out, mode="w", format=fmt)
    for kind, a, b in entries:
        if kind == "ti":
            tf.addfile(a, io.BytesIO(b) if b is not None else None)
        else:
            tf.fileobj.write(a)
            tf.offset += len(a)
    if end:
        tf.close()  # the end-of-archive blocks and the record padding
        return out.getvalue()
    return out.getvalue()


def gnu_sparse(name, realsize, chunks):
    """A PAX GNU sparse 1.0 file: a map of (offset, bytes) data chunks in a
    file of REALSIZE bytes.  The map itself leads the data."""
    smap = "%d\n" % len(chunks)
    for off, data in chunks:
        smap += "%d\n%d\n" % (off, len(data))
    smap = pad(smap.encode())
    body = smap + b"".join(d for _, d in chunks)
    ti = _ti("GNUSparseFile.0/" + name, tarfile.REGTYPE, 0o644)
    ti.size = len(body)
    ti.pax_headers = {"GNU.sparse.major": "1", "GNU.sparse.minor": "0",
                      "GNU.sparse.name": name, "GNU.sparse.realsize": str(realsize)}
    return ("ti", ti, body)


# ------------------------------------------------------------------ the cases
# Each case: layers (a list of entry lists: the hostile image's own layers,
# most have one), expect ("ok", "fail", "any", or a dict by position) and
# checks on the tree when the pull succeeds (a list, or a dict by position).
# "raw" replaces the layer by bytes, "gzip" compresses it.

def cases(V):
    v = V.lstrip("/")
    C = []

    def case(name, layers, expect="ok", checks=(), **kw):
        if layers and not isinstance(layers[0], list):
            layers = [layers]
        C.append(dict(name=name, layers=layers, expect=expect, checks=checks, **kw))

    # -- names that climb, and names that only look odd
    case("dotdot-file", [F(UP + v + "/pwned")], "fail", err="escapes the layer root")
    case("dotdot-middle", [D("a"), F("a/../../pwned")], "fail", err="escapes the layer root")
    case("dotdot-dir", [D("../pwned-dir")], "fail", err="escapes the layer root")
    case("dotdot-symlink-name", [S("../pwned-link", "/etc")], "fail", err="escapes the layer root")
    case("dotdot-normalised", [F("a/b/../../c", "in")], "ok", [("file", "c", "in"), ("absent", "a")])
    case("absolute-name", [F(V + "/pwned", "in")], "ok", [("file", v + "/pwned", "in")])
    case("odd-but-fine", [F("..foo", "1"), F("./etc/x", "2"), F("etc//y", "3"), F("foo..", "4")], "ok",
         [("file", "..foo", "1"), ("file", "etc/x", "2"), ("file", "etc/y", "3"), ("file", "foo..", "4")])
    case("dot-root-entry", [D(".", mode=0o755), F("./z", "z")], "ok", [("file", "z", "z")])
    case("root-as-symlink", [S(".", V)], "fail", err="would replace the layer root")
    case("root-as-file", [F("./", "x")], "any")

    # -- symlinks that escape
    # a symlink whose target is missing inside the root is not gone
    # through (fails cleanly); one whose target exists there leads there
    case("symlink-abs-dangling-write", [S("evil", V), F("evil/pwned", "in")], "fail",
         err="No such file or directory")
    case("symlink-abs-write", [F(v + "/.keep"), S("evil", V), F("evil/pwned", "in")], "ok",
         [("link", "evil", V), ("file", v + "/pwned", "in")])
    case("symlink-rel-dangling-write", [S("evil", UP + v), F("evil/pwned", "in")], "fail")
    case("symlink-rel-write", [F(v + "/.keep"), S("evil", UP + v), F("evil/pwned", "in")], "ok",
         [("file", v + "/pwned", "in")])
    case("symlink-chain-climb", [D("a"), D("a/b"), S("a/b/up", "../.."), S("a/b/up2", "up/../.."),
                                 F("a/b/up2/pwned", "in")], "ok", [("file", "pwned", "in")])
    case("symlink-in-dir-write", [D("d2"), S("d2/link", V), F("d2/link/sub/pwned", "in")], "fail")
    case("symlink-lower-abs", [F("lower_out/pwned", "in")], {"first": "ok", "top": "fail"},
         {"first": [("file", "lower_out/pwned", "in")]})
    case("symlink-lower-abs-existing", [F(v + "/.keep"), F("lower_out/pwned", "in")], "ok",
         {"first": [("file", "lower_out/pwned", "in")], "top": [("file", v + "/pwned", "in")]})
    case("symlink-lower-rel", [F("lower_rel/pwned", "in")], "ok",
         {"first": [("file", "lower_rel/pwned", "in")], "top": [("file", "pwned", "in")]})
    case("symlink-loop", [S("l1", "l2"), S("l2", "l1"), F("l1/pwned")], "fail")
    case("symlink-proc-self-root", [S("m", "/proc/self/root"), F("m/pwned", "in")], "any",
         [("absent", "pwned")])
    case("symlink-to-victim-file-then-file", [S("evil", V + "/secret"), F("evil", "mine")], "ok",
         [("file", "evil", "mine")])
    case("symlink-then-dir-meta", [S("evil", V), D("evil", mode=0o777)], "ok",
         [("dir", "evil"), ("mode", "evil", 0o777)])
    case("symlink-xattr", [S("evil", V + "/secret", pax={"SCHILY.xattr.user.pwn": "1"})], "any")
    case("symlink-long-target", [F(v + "/.keep"), S("longlink", UP * 3 + v), F("longlink/pwned", "in")],
         "ok", [("file", v + "/pwned", "in")])
    case("lib-usr-lib", [F("lib/libnew.so", "so")], "ok",
         {"first": [("file", "lib/libnew.so", "so")],
          "top": [("link", "lib", "usr/lib"), ("file", "usr/lib/libnew.so", "so")]})
    # a symlink of the layer's own through to a directory only the lower
    # layer has (dangling when the layer is written apart from it)
    case("own-symlink-to-lower-dir", [S("ul", "usr/lib"), F("ul/viaown.so", "v")],
         {"first": "fail", "top": "ok"},
         {"top": [("link", "ul", "usr/lib"), ("file", "usr/lib/viaown.so", "v")]})
    case("var-run-abs", [F("var/run/x.pid", "1")], "ok",
         {"first": [("file", "var/run/x.pid", "1")],
          "top": [("link", "var/run", "/run"), ("file", "run/x.pid", "1")]})

    # -- type changes that try to write through
    case("dir-then-symlink-then-write", [F(v + "/.keep"), D("t"), F("t/a"), S("t", V), F("t/pwned", "in")],
         "ok", [("link", "t", V), ("file", v + "/pwned", "in"), ("absent", "t/a")])
    case("lower-dir-becomes-symlink", [F(v + "/.keep"), S("d", UP + v), F("d/pwned", "in")], "ok",
         [("file", v + "/pwned", "in")])
    case("lower-dir-becomes-dangling-symlink", [S("d", UP + v), F("d/pwned", "in")], "fail")
    case("symlink-becomes-file", [F("dir_sym", "now a file")], "ok",
         {"first": [("file", "dir_sym", "now a file")],
          "top": [("file", "dir_sym", "now a file"), ("file", "d/a", "a")]})
    case("file-becomes-dir", [F("y", "f"), D("y"), F("y/z", "z")], "ok", [("file", "y/z", "z")])
    case("dir-becomes-file", [D("x"), F("x/a"), F("x", "file")], "ok", [("file", "x", "file")])
    case("duplicate-file", [F("dup", "one"), F("dup", "two")], "ok", [("file", "dup", "two")])
    case("duplicate-dir-modes", [D("dd", mode=0o700), D("dd", mode=0o751)], "ok", [("mode", "dd", 0o751)])
    case("implied-parents", [F("p/q/r/s", "deep")], "ok",
         [("file", "p/q/r/s", "deep"), ("mode", "p/q", 0o755)])

    # -- hardlinks
    case("hardlink-dotdot", [H("pwned", UP + v + "/secret")], "fail", err="escapes the layer root")
    case("hardlink-abs", [H("pwned", V + "/secret")], "fail", err="does not exist")
    case("hardlink-through-symlink", [S("evil", V), H("pwned", "evil/secret")], "fail",
         err="does not exist")
    case("hardlink-through-lower-symlink", [H("pwned", "lower_out/secret")], "fail")
    case("hardlink-to-symlink-out", [S("evil", V + "/secret"), H("pwned", "evil")], "ok",
         [("link", "pwned", V + "/secret"), ("same", "pwned", "evil")])
    case("hardlink-to-lower-symlink-then-write", [F(v + "/.keep"), H("hl", "lower_out"), F("hl/pwned", "in")],
         {"first": "fail", "top": "ok"}, {"top": [("link", "hl", V), ("file", v + "/pwned", "in")]})
    case("hardlink-not-yet", [H("pwned", "later"), F("later")], "fail", err="does not exist")
    case("hardlink-self", [H("self", "self")], "fail")
    case("hardlink-to-dir", [D("dd"), H("x", "dd")], "fail", err="hardlink to directory")
    case("hardlink-to-root", [H("x", "/")], "fail")
    case("hardlink-to-lower-file", [H("lnk", "f")], {"first": "fail", "top": "ok"},
         {"top": [("file", "lnk", "lower f"), ("same", "lnk", "f")]})
    case("hardlink-chain", [F("a", "chain"), H("b", "a"), H("c", "b"), H("d/e", "c")], "ok",
         [("file", "d/e", "chain"), ("same", "a", "d/e"), ("same", "b", "c")])
    case("hardlink-with-data",
         [F("orig", "orig"),
          RAW(raw_header(b"hl", b"1", 5, b"orig") + pad(b"EVIL!"))], "any",
         [("file", "orig", "orig")])
    case("hardlink-many", [F("m0", "m")] + [H("m%d" % i, "m0") for i in range(1, 400)], "ok",
         [("same", "m0", "m399")])

    # -- whiteouts and opaque markers
    case("whiteout-dot", [F(".wh..")], "fail", err="does not name a file")
    case("whiteout-dotdot", [F("d/.wh...")], "fail", err="does not name a file")
    case("whiteout-empty", [F(".wh.")], "fail", err="does not name a file")
    case("whiteout-climb", [F("../.wh.secret")], "fail", err="escapes the layer root")
    case("whiteout-abs-victim", [F(V + "/.wh.secret")], "ok")
    case("whiteout-through-symlink", [S("evil", V), F("evil/.wh.secret")], "any")
    case("whiteout-through-lower-symlink", [F("lower_out/.wh.secret"), F("lower_rel/.wh." + v.split("/")[0])],
         "any")
    case("whiteout-lower-file", [F(".wh.f"), F("d/.wh.a")], "ok",
         {"first": [("absent", "f")], "top": [("absent", "f"), ("absent", "d/a"), ("file", "d/b", "b")]})
    case("whiteout-own-file", [F("n", "mine"), F(".wh.n")], "ok", [("file", "n", "mine")])
    case("whiteout-via-lower-symlinked-parent", [F("lib/.wh.liba.so")], "any")
    case("opaque-before", [D("d"), F("d/.wh..wh..opq"), F("d/new", "new")], "ok",
         {"first": [("file", "d/new", "new")],
          "top": [("file", "d/new", "new"), ("absent", "d/a"), ("absent", "d/b")]})
    case("opaque-after", [D("d"), F("d/new", "new"), F("d/.wh..wh..opq")], "ok",
         {"first": [("file", "d/new", "new")],
          "top": [("file", "d/new", "new"), ("absent", "d/a"), ("absent", "d/b")]})
    case("opaque-root", [F("mine", "m"), F(".wh..wh..opq")], "ok",
         {"top": [("absent", "f"), ("absent", "d"), ("file", "mine", "m")]})
    case("opaque-through-symlink", [S("evil", V), F("evil/.wh..wh..opq")], "any")
    case("opaque-through-lower-symlink", [F("lower_out/.wh..wh..opq")], "any")
    case("opaque-missing-dir", [F("nodir/.wh..wh..opq")], "ok", [("dir", "nodir")])
    case("aufs-meta", [F(".wh..wh.plnk/123.456", "x"), F("keep", "k")], "ok",
         [("absent", ".wh..wh.plnk"), ("file", "keep", "k")])

    # -- device nodes, setuid, owners
    case("device-nodes", [NODE("dev/null2", tarfile.CHRTYPE, 1, 3), NODE("dev/sda2", tarfile.BLKTYPE, 8, 0),
                          NODE("fifo", tarfile.FIFOTYPE)], "ok",
         [("chr", "dev/null2"), ("blk", "dev/sda2"), ("fifo", "fifo")])
    case("chardev-00", [NODE("zero00", tarfile.CHRTYPE, 0, 0)], "any", nocompare=True)
    case("setuid-dir-and-file", [D("sdir", mode=0o6755, uid=1000, gid=1000),
                                 F("sdir/suid", "s", mode=0o4755, uid=1000, gid=1000)], "ok",
         [("mode", "sdir", 0o6755), ("mode", "sdir/suid", 0o4755), ("owner", "sdir/suid", 1000, 1000)])
    case("dir-mode-000", [D("locked", mode=0), F("locked/f", "f")], "ok",
         [("mode", "locked", 0), ("file", "locked/f", "f")])
    case("owner-max", [F("big", "b", uid=4294967295, gid=0)], "fail", err="invalid owner")

    # -- xattrs
    case("xattr-trusted-overlay",
         [D("d", pax={"SCHILY.xattr.trusted.overlay.opaque": "y"}),
          D("r", pax={"SCHILY.xattr.trusted.overlay.redirect": "/d"}),
          F("o", "o", pax={"SCHILY.xattr.trusted.overlay.origin": "x", "SCHILY.xattr.user.overlay.opaque": "y"})],
         "ok", {"first": [("noxattr", "d"), ("noxattr", "r"), ("noxattr", "o")],
                "top": [("file", "d/a", "a"), ("absent", "r/a"), ("noxattr", "o")]})
    case("xattr-security", [F("cap", "c", pax={"SCHILY.xattr.security.capability":
                                               "\x01\x00\x00\x02\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
                                               "SCHILY.xattr.security.selinux": "system_u:object_r:shadow_t:s0",
                                               "SCHILY.xattr.user.kept": "yes"})], "ok",
         [("xattr", "cap", "user.kept", "yes"), ("xattr", "cap", "security.selinux", None)])

    # -- sizes and counts
    case("sparse-huge", [[gnu_sparse("sparse", 1 << 40, [(0, b"head"), ((1 << 40) - 4, b"tail")])],
                         [F("second", "2")]], "ok", [("size", "sparse", 1 << 40), ("file", "second", "2")],
         nocompare_content=True)
    case("size-claim-huge", [RAW(raw_header(b"huge", b"0", 10 << 30) + b"a" * 512)], "fail")
    case("size-field-garbage", [RAW(raw_header(b"g", b"0", size_field=b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"))],
         "fail")
    case("many-entries", [D("many")] + [F("many/f%05d" % i, "") for i in range(4000)], "ok",
         [("file", "many/f03999", "")])
    case("deep-dirs", [F("a/" * 300 + "leaf", "deep")], "ok", [("file", "a/" * 300 + "leaf", "deep")])
    case("too-deep", [F("a/" * 2100 + "leaf", "deep")], "fail")
    case("name-too-long", [F("n" * 300, "x")], "fail")
    case("pax-long-traversal", [F("x" * 120 + "/" + UP * 4 + v + "/pwned", "in")], "fail",
         err="escapes the layer root")
    case("gnu-long-traversal", [F("y" * 120 + "/" + UP * 4 + v + "/pwned", "in")], "fail",
         fmt=tarfile.GNU_FORMAT, err="escapes the layer root")
    case("gnu-longlink-target", [F(v + "/.keep"), D("z" * 150), S("ll", "/" + "z" * 150 + "/" + UP * 4 + v),
                                 F("ll/pwned", "in")], "ok", [("file", v + "/pwned", "in")],
         fmt=tarfile.GNU_FORMAT)
    case("pax-huge-header", [F("big-pax", "b", pax={"comment": "c" * (4 << 20)})], "any")
    case("zero-length-name", [RAW(raw_header(b"", b"0", 0)), F("after", "a")], "any")
    case("nul-in-name", [RAW(raw_header(b"safe\0" + (UP + v + "/pwned").encode()[:90], b"0", 0))], "ok",
         [("file", "safe", "")])
    case("nul-in-pax-path", [F("p", "in", pax={"path": "ok\u0000/" + UP + v + "/pwned"})], "any")

    # -- broken archives
    case("truncated-data", [RAW(raw_header(b"cut", b"0", 100000) + b"a" * 2048)], "fail",
         end=False)
    case("bad-checksum", [RAW(raw_header(b"bad", b"0", 0, bad_checksum=True))], "fail")
    case("not-a-tar", [], "fail", raw=b"this is not a tar archive at all\n" * 40)
    case("trailing-garbage", [F("t", "t")], "any", trailing=b"\xde\xad\xbe\xef" * 1000)
    case("gzip-corrupt", [F("g", "g" * 5000)], "fail", gzip=True, corrupt_gzip=True)
    case("gzip-truncated", [F("g", "g" * 50000)], "fail", gzip=True, truncate_gzip=True)
    return C


# ------------------------------------------------------------------ the layout
class Layout:
    def __init__(self, out):
        self.out = out
        os.makedirs(os.path.join(out, "blobs", "sha256"), exist_ok=True)
        self.manifests = []

    def blob(self, data):
        d = hashlib.sha256(data).hexdigest()
        p = os.path.join(self.out, "blobs", "sha256", d)
        if not os.path.exists(p):
            with open(p, "wb") as f:
                f.write(data)
        return "sha256:" + d, len(data)

    def image(self, tag, layers):
        """LAYERS: (bytes, diff_id, media type) each."""
        config = {"architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
                  "config": {"Cmd": ["/bin/true"]},
                  "rootfs": {"type": "layers", "diff_ids": [l[1] for l in layers]},
                  "history": [{"created": "2024-01-01T00:00:00Z", "created_by": "hostile"} for _ in layers]}
        cd, cs = self.blob(json.dumps(config, sort_keys=True).encode())
        ls = []
        for data, _, mt in layers:
            d, s = self.blob(data)
            ls.append({"mediaType": mt, "digest": d, "size": s})
        man = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
               "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
               "layers": ls}
        md, ms = self.blob(json.dumps(man, sort_keys=True).encode())
        self.manifests.append({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md,
                               "size": ms, "annotations": {"org.opencontainers.image.ref.name": tag}})

    def close(self):
        with open(os.path.join(self.out, "oci-layout"), "w") as f:
            json.dump({"imageLayoutVersion": "1.0.0"}, f)
        with open(os.path.join(self.out, "index.json"), "w") as f:
            json.dump({"schemaVersion": 2, "manifests": self.manifests}, f)


TAR = "application/vnd.oci.image.layer.v1.tar"
TGZ = "application/vnd.oci.image.layer.v1.tar+gzip"


def layer_blob(c, entries):
    if c.get("raw") is not None:
        tar = c["raw"]
    else:
        tar = build_tar(entries, c.get("fmt", tarfile.PAX_FORMAT), c.get("end", True))
    tar += c.get("trailing", b"")
    diff_id = "sha256:" + hashlib.sha256(tar).hexdigest()
    if not c.get("gzip"):
        return tar, diff_id, TAR
    gz = gzip.compress(tar, 6, mtime=0)
    if c.get("corrupt_gzip"):
        gz = gz[:-8] + bytes(b ^ 0x55 for b in gz[-8:-4]) + gz[-4:]  # the CRC
    if c.get("truncate_gzip"):
        gz = gz[: len(gz) // 2]
    return gz, diff_id, TGZ


def lower_layer(V):
    e = [D("etc"), F("etc/passwd", "root:x:0:0::/root:/bin/sh\n"), D("usr"), D("usr/lib"),
         F("usr/lib/liba.so", "liba"), S("lib", "usr/lib"), D("var"), S("var/run", "/run"), D("run"),
         D("d"), F("d/a", "a"), F("d/b", "b"), F("f", "lower f"), S("dir_sym", "d"),
         S("lower_out", V), S("lower_rel", UP)]
    return build_tar(e)


def gen(out, V):
    lay = Layout(out)
    low = lower_layer(V)
    low_l = (low, "sha256:" + hashlib.sha256(low).hexdigest(), TAR)
    lay.image("base", [low_l])
    meta = {}
    for c in cases(V):
        ls = [layer_blob(c, entries) for entries in (c["layers"] or [[]])]
        lay.image(c["name"] + "-first", ls)
        lay.image(c["name"] + "-top", [low_l] + ls)
        meta[c["name"]] = {k: c[k] for k in ("expect", "checks") if k in c}
        meta[c["name"]].update({k: c[k] for k in ("err", "nocompare", "nocompare_content") if k in c})
    lay.close()
    with open(os.path.join(out, "cases.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print(len(meta))


# ------------------------------------------------------------------ checking
def lookup(root, rel):
    """lstat of REL under ROOT without following any symlink on the way:
    None when a component is missing or is not a real directory."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        parts = [p for p in rel.split("/") if p]
        for i, p in enumerate(parts):
            try:
                st = os.stat(p, dir_fd=fd, follow_symlinks=False)
            except OSError:
                return None, None
            if i == len(parts) - 1:
                return st, (fd, p)
            if not stat.S_ISDIR(st.st_mode):
                return None, None
            nfd = os.open(p, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = nfd
        return os.fstat(fd), (fd, ".")
    finally:
        pass


def read_at(loc):
    fd, name = loc
    f = os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=fd)
    try:
        out = b""
        while True:
            b = os.read(f, 1 << 20)
            if not b:
                return out
            out += b
    finally:
        os.close(f)


def xattrs_at(loc):
    fd, name = loc
    p = "/proc/self/fd/%d/%s" % (fd, name)
    try:
        names = os.listxattr(p, follow_symlinks=False)
    except OSError:
        return {}
    out = {}
    for n in names:
        try:
            out[n] = os.getxattr(p, n, follow_symlinks=False)
        except OSError:
            pass
    return out


def run_check(root, chk):
    kind, path = chk[0], chk[1]
    st, loc = lookup(root, path)
    try:
        if kind == "absent":
            return None if st is None else "'%s' exists" % path
        if st is None:
            return "'%s' is missing" % path
        if kind == "file":
            if not stat.S_ISREG(st.st_mode):
                return "'%s' is not a regular file" % path
            if chk[2] is not None and read_at(loc) != chk[2].encode():
                return "'%s' holds %r, not %r" % (path, read_at(loc)[:40], chk[2])
        elif kind == "dir":
            if not stat.S_ISDIR(st.st_mode):
                return "'%s' is not a directory" % path
        elif kind == "link":
            if not stat.S_ISLNK(st.st_mode):
                return "'%s' is not a symlink" % path
            t = os.readlink(loc[1], dir_fd=loc[0])
            if t != chk[2]:
                return "'%s' points to '%s', not '%s'" % (path, t, chk[2])
        elif kind in ("chr", "blk", "fifo"):
            want = {"chr": stat.S_ISCHR, "blk": stat.S_ISBLK, "fifo": stat.S_ISFIFO}[kind]
            if not want(st.st_mode):
                return "'%s' is not a %s" % (path, kind)
        elif kind == "mode":
            if stat.S_IMODE(st.st_mode) != chk[2]:
                return "'%s' has mode %o, not %o" % (path, stat.S_IMODE(st.st_mode), chk[2])
        elif kind == "owner":
            if (st.st_uid, st.st_gid) != (chk[2], chk[3]):
                return "'%s' is owned by %d:%d" % (path, st.st_uid, st.st_gid)
        elif kind == "size":
            if st.st_size != chk[2]:
                return "'%s' has size %d, not %d" % (path, st.st_size, chk[2])
        elif kind == "same":
            st2, _ = lookup(root, chk[2])
            if st2 is None or (st.st_dev, st.st_ino) != (st2.st_dev, st2.st_ino):
                return "'%s' and '%s' are not one inode" % (path, chk[2])
        elif kind == "xattr":
            x = xattrs_at(loc)
            got = x.get(chk[2])
            got = got.decode(errors="replace") if got is not None else None
            if got != chk[3]:
                return "'%s' xattr %s is %r, not %r" % (path, chk[2], got, chk[3])
        elif kind == "noxattr":
            bad = [n for n in xattrs_at(loc) if "overlay." in n]
            if bad:
                return "'%s' carries %s" % (path, ",".join(bad))
        else:
            return "unknown check %s" % kind
    finally:
        if loc is not None and loc[0] is not None:
            try:
                os.close(loc[0])
            except OSError:
                pass
    return None


def listing(root, out, skip_content=False):
    # a file's link count is how many names inside ROOT share its inode: a
    # copy-driver layer also shares inodes with the layer below it
    names = {}
    for dirpath, dirs, files in os.walk(root):
        for n in dirs + files:  # (a symlink to a directory is in dirs)
            st = os.lstat(os.path.join(dirpath, n))
            if not stat.S_ISDIR(st.st_mode):
                names[(st.st_dev, st.st_ino)] = names.get((st.st_dev, st.st_ino), 0) + 1
    rows = []
    for dirpath, dirs, files in os.walk(root):
        dirs.sort()
        for n in sorted(dirs + files):
            p = os.path.join(dirpath, n)
            rel = os.path.relpath(p, root)
            st = os.lstat(p)
            extra = ""
            if stat.S_ISREG(st.st_mode) and not skip_content:
                if st.st_size < (64 << 20):
                    with open(p, "rb") as f:
                        extra = hashlib.sha256(f.read()).hexdigest()[:16]
            elif stat.S_ISLNK(st.st_mode):
                extra = os.readlink(p)
            elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                extra = "%d,%d" % (os.major(st.st_rdev), os.minor(st.st_rdev))
            try:
                xs = sorted(x for x in os.listxattr(p, follow_symlinks=False)
                            if not x.startswith("trusted.overlay."))
            except OSError:
                xs = []
            nl = "" if stat.S_ISDIR(st.st_mode) else names[(st.st_dev, st.st_ino)]
            rows.append("%s|%o|%d:%d|%s|%d|%s|%s" % (rel, st.st_mode, st.st_uid, st.st_gid, nl,
                                                   st.st_size if not stat.S_ISDIR(st.st_mode) else 0,
                                                   extra, ",".join(xs)))
    with open(out, "w") as f:
        f.write("\n".join(rows) + "\n")


def check(cases_file, list_file):
    with open(cases_file) as f:
        meta = json.load(f)
    bad = 0
    with open(list_file) as f:
        for line in f:
            name, pos, root, out = line.split()
            c = meta[name]
            checks = c.get("checks") or []
            if isinstance(checks, dict):
                checks = checks.get(pos, [])
            for chk in checks:
                why = run_check(root, chk)
                if why:
                    print("%s %s: %s" % (name, pos, why))
                    bad += 1
            listing(root, out, c.get("nocompare_content", False))
    return bad


def snap(top, skip):
    rows = []
    for dirpath, dirs, files in os.walk(top):
        if dirpath == top:
            dirs[:] = [d for d in dirs if d not in skip]
            files = [x for x in files if x not in skip]
        dirs.sort()
        for n in sorted(dirs + files) + ([] if dirpath != top else ["."]):
            p = os.path.join(dirpath, n) if n != "." else top
            st = os.lstat(p)
            h = ""
            if stat.S_ISREG(st.st_mode):
                fd = os.open(p, os.O_RDONLY | os.O_NOATIME | os.O_NOFOLLOW)
                hh = hashlib.sha256()
                while True:
                    b = os.read(fd, 1 << 20)
                    if not b:
                        break
                    hh.update(b)
                os.close(fd)
                h = hh.hexdigest()
            elif stat.S_ISLNK(st.st_mode):
                h = os.readlink(p)
            try:
                xs = sorted(os.listxattr(p, follow_symlinks=False))
            except OSError:
                xs = []
            rows.append("%s|%o|%d:%d|%d|%d|%d.%d|%d.%d|%d.%d|%s|%s" % (
                os.path.relpath(p, top), st.st_mode, st.st_uid, st.st_gid, st.st_nlink, st.st_size,
                # listing a directory moves its atime: only files' count
                0 if stat.S_ISDIR(st.st_mode) else st.st_atime_ns // 10**9,
                0 if stat.S_ISDIR(st.st_mode) else st.st_atime_ns % 10**9, st.st_mtime_ns // 10**9, st.st_mtime_ns % 10**9,
                st.st_ctime_ns // 10**9, st.st_ctime_ns % 10**9, h, ",".join(xs)))
    print("\n".join(rows))


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "gen":
        gen(sys.argv[2], sys.argv[3])
    elif cmd == "check":
        sys.exit(1 if check(sys.argv[2], sys.argv[3]) else 0)
    elif cmd == "snap":
        snap(sys.argv[2], set(sys.argv[3:]))
    else:
        sys.exit("unknown command " + cmd)
