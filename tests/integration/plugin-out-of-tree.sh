#!/bin/bash
# A plugin built outside the tree against the INSTALLED headers, found with
# pkg-config, loads through STRATA_PLUGIN_PATH and shows in `strata info`.
# Installs strata into a temporary prefix first, so it tests what packagers
# ship.
. "$(dirname "$0")/lib.sh"

command -v pkg-config >/dev/null || skip_all "pkg-config is not installed"
[ -n "${abs_top_builddir:-}" ] || die "abs_top_builddir is not set"
setup_store
DEST="$TMPD/dest"
if ! make -C "$abs_top_builddir" install DESTDIR="$DEST" > "$TMPD/install.log" 2>&1; then
    not_ok "make install DESTDIR=..."; sed 's/^/#   /' "$TMPD/install.log" | tail -20
    finish
fi
ok "make install DESTDIR=..."

pc=$(find "$DEST" -name strata-plugin.pc | head -1)
[ -n "$pc" ] && ok "strata-plugin.pc installed" || { not_ok "strata-plugin.pc installed"; finish; }
# pkgconf puts the sysroot in front of paths and variables alike
export PKG_CONFIG_PATH=$(dirname "$pc") PKG_CONFIG_SYSROOT_DIR="$DEST"
prefix=$(pkg-config --variable=prefix strata-plugin)
libdir=$(pkg-config --variable=libdir strata-plugin)
for f in include/strata/plugin/plugin.h include/strata/plugin/host.h include/strata/plugin/storage.h \
         include/strata/plugin/transport.h include/strata/plugin/isolation.h include/strata/strata.h \
         bin/strata; do
    if [ -e "$prefix/$f" ]; then ok "installed $f"; else not_ok "installed $f"; fi
done
[ -e "$libdir/libstrata.so" ] && ok "installed libstrata" || not_ok "installed libstrata"
plugindir=$(pkg-config --variable=plugindir strata-plugin)
if [ -n "$(ls "$plugindir"/*.so 2>/dev/null)" ]; then ok "plugins installed in pkg-config's plugindir"
else not_ok "plugins installed in pkg-config's plugindir '$plugindir'"; fi
export LD_LIBRARY_PATH="$libdir"
PREFIX=$prefix
abi=$(pkg-config --variable=abi_major strata-plugin).$(pkg-config --variable=abi_minor strata-plugin)
want=$(sed -n 's/^#define STRATA_PLUGIN_ABI_MAJOR \([0-9]*\).*/\1/p' "$srcdir/include/strata/plugin/plugin.h").$(sed -n 's/^#define STRATA_PLUGIN_ABI_MINOR \([0-9]*\).*/\1/p' "$srcdir/include/strata/plugin/plugin.h")
[ "$abi" = "$want" ] && ok "pkg-config exports ABI $abi (plugin.h's)" || not_ok "pkg-config exports ABI ($abi, plugin.h says $want)"

mkdir -p "$TMPD/ext"
if cc -shared -fPIC -Wall -Werror -o "$TMPD/ext/hello.so" \
      "$srcdir/tests/integration/out-of-tree-plugin/hello.c" $(pkg-config --cflags --libs strata-plugin) \
      2> "$TMPD/cc.log"; then
    ok "out-of-tree plugin builds with pkg-config --cflags --libs strata-plugin"
else
    not_ok "out-of-tree plugin builds"; sed 's/^/#   /' "$TMPD/cc.log"; finish
fi

# the new plugin comes through STRATA_PLUGIN_PATH, the installed ones from
# the installed plugin directory (under DESTDIR here)
OUT=$(STRATA_PLUGIN_PATH="$TMPD/ext:$plugindir" "$PREFIX/bin/strata" --root "$ROOT" info 2>&1)
check_contains "info lists the out-of-tree plugin" "$OUT" "isolation hello:"
check_contains "info shows the plugin's version" "$OUT" "Version:      1.2.3"
check_contains "info shows the plugin's file" "$OUT" "$TMPD/ext/hello.so"
check_contains "info shows why its probe fails" "$OUT" "Probe:        failed: the hello backend only says hello"
check_contains "the installed binary finds the installed plugins" "$OUT" "storage copy:"
finish
