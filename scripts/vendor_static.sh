#!/usr/bin/env bash
# Refresh the vendored front-end libraries in static/vendor/ from the npm registry.
#
# This is a maintainer tool only: the vendored files are committed, and neither
# installing nor running the project needs npm or node.
#
# Usage: scripts/vendor_static.sh
#
# To upgrade: change the pinned versions AND integrity values below (take them
# from `npm view PACKAGE@VERSION dist.integrity`), run this script, run the
# scanner e2e test (tests/e2e/test_scanner_standalone.py) and the accessibility
# test (tests/e2e/test_accessibility.py), then commit
# static/vendor/ together with this script.
set -euo pipefail

# --- Pins -------------------------------------------------------------------
# barcode-detector: BarcodeDetector ponyfill/polyfill (MIT).
BARCODE_DETECTOR_VERSION="3.2.2"
BARCODE_DETECTOR_INTEGRITY="sha512-/4QOrrNrCRmDSBWiiP4aC72dnkuXUEdcFRidHgbPRXUpy82XcCMvJssI6fEs6JT42LS7DvBVZO70qasJbYKyrA=="
# zxing-wasm: the ZXing-C++ WebAssembly build used by barcode-detector (MIT;
# the wasm embeds ZXing-C++, Apache-2.0). Must be the exact version that
# barcode-detector depends on (checked below).
ZXING_WASM_VERSION="3.1.3"
ZXING_WASM_INTEGRITY="sha512-3lC9BJk4fR5ZJxcGjb0hVnDFOW7KpLXHIebiBmVd4FDRQZVeObztoTKxRUPxlWwSgxrMRONK0u50hBD1aTYEKg=="

# axe-core: the accessibility engine the browser tests run on every page
# (tests/e2e/test_accessibility.py); never served to users (MPL-2.0).
AXE_CORE_VERSION="4.14.1"
AXE_CORE_INTEGRITY="sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ=="

# --- Paths ------------------------------------------------------------------
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENDOR_DIR="${REPO_ROOT}/static/vendor"
BD_DIR="${VENDOR_DIR}/barcode-detector"
AXE_DIR="${VENDOR_DIR}/axe-core"

die() { echo "vendor_static.sh: $*" >&2; exit 1; }

command -v npm >/dev/null 2>&1 || die "npm is required to refresh vendored files (not to run the project)."
command -v node >/dev/null 2>&1 || die "node is required to refresh vendored files."
command -v sha256sum >/dev/null 2>&1 || die "sha256sum is required."

WORK_DIR="$(mktemp -d)"
trap 'rm -rf -- "${WORK_DIR}"' EXIT

# pack_and_extract NAME VERSION INTEGRITY -> extracts into $WORK_DIR/NAME/package
pack_and_extract() {
    local name="$1" version="$2" integrity="$3" json actual tarball
    json="$(cd "${WORK_DIR}" && npm pack "${name}@${version}" --json --silent 2>"${WORK_DIR}/npm.log")" \
        || { cat "${WORK_DIR}/npm.log" >&2; die "npm pack ${name}@${version} failed."; }
    actual="$(node -e 'const j = JSON.parse(process.argv[1]); process.stdout.write(j[0].integrity)' "${json}")"
    tarball="$(node -e 'const j = JSON.parse(process.argv[1]); process.stdout.write(j[0].filename)' "${json}")"
    [[ "${actual}" == "${integrity}" ]] \
        || die "integrity mismatch for ${name}@${version}: expected ${integrity}, got ${actual}"
    mkdir -p "${WORK_DIR}/${name}"
    tar -xzf "${WORK_DIR}/${tarball}" -C "${WORK_DIR}/${name}"
    [[ -f "${WORK_DIR}/${name}/package/package.json" ]] || die "unexpected tarball layout for ${name}."
}

pkg_field() {  # pkg_field PACKAGE_JSON KEY [SUBKEY]
    node -e '
        let v = require(process.argv[1]);
        for (const k of process.argv.slice(2)) v = v == null ? undefined : v[k];
        process.stdout.write(v == null ? "" : String(v));
    ' "$@"
}

echo "Fetching barcode-detector@${BARCODE_DETECTOR_VERSION} and zxing-wasm@${ZXING_WASM_VERSION} ..."
pack_and_extract barcode-detector "${BARCODE_DETECTOR_VERSION}" "${BARCODE_DETECTOR_INTEGRITY}"
pack_and_extract zxing-wasm "${ZXING_WASM_VERSION}" "${ZXING_WASM_INTEGRITY}"
echo "Fetching axe-core@${AXE_CORE_VERSION} ..."
pack_and_extract axe-core "${AXE_CORE_VERSION}" "${AXE_CORE_INTEGRITY}"

BD_PKG="${WORK_DIR}/barcode-detector/package"
AXE_PKG="${WORK_DIR}/axe-core/package"
ZW_PKG="${WORK_DIR}/zxing-wasm/package"

dep="$(pkg_field "${BD_PKG}/package.json" dependencies zxing-wasm)"
[[ "${dep}" == "${ZXING_WASM_VERSION}" ]] \
    || die "barcode-detector@${BARCODE_DETECTOR_VERSION} depends on zxing-wasm '${dep}', pinned ${ZXING_WASM_VERSION}."
BD_LICENSE="$(pkg_field "${BD_PKG}/package.json" license)"
ZW_LICENSE="$(pkg_field "${ZW_PKG}/package.json" license)"

IIFE_SRC="dist/iife/ponyfill.js"
WASM_SRC="dist/reader/zxing_reader.wasm"
[[ -f "${BD_PKG}/${IIFE_SRC}" ]] || die "missing ${IIFE_SRC} in barcode-detector."
[[ -f "${ZW_PKG}/${WASM_SRC}" ]] || die "missing ${WASM_SRC} in zxing-wasm."

# The IIFE embeds the SHA-256 of the wasm it was built against: check that the
# reader wasm we self-host is exactly that one.
wasm_sha="$(sha256sum "${ZW_PKG}/${WASM_SRC}" | cut -d' ' -f1)"
grep -q "${wasm_sha}" "${BD_PKG}/${IIFE_SRC}" \
    || die "zxing_reader.wasm (sha256 ${wasm_sha}) does not match the hash embedded in ${IIFE_SRC}."
# The scanner must never fall back to the CDN: make sure the override API exists.
grep -q 'prepareZXingModule' "${BD_PKG}/${IIFE_SRC}" \
    || die "${IIFE_SRC} no longer exports prepareZXingModule; scanner.js needs updating."

echo "Copying into ${BD_DIR} ..."
rm -rf -- "${BD_DIR}"
mkdir -p "${BD_DIR}"
cp "${BD_PKG}/${IIFE_SRC}" "${BD_DIR}/barcode-detector.iife.js"
cp "${ZW_PKG}/${WASM_SRC}" "${BD_DIR}/zxing_reader.wasm"
cp "${BD_PKG}/LICENSE" "${BD_DIR}/LICENSE.barcode-detector"
cp "${ZW_PKG}/LICENSE" "${BD_DIR}/LICENSE.zxing-wasm"
# zxing_reader.wasm is compiled from ZXing-C++ (Apache-2.0), whose licence text
# is not shipped in the zxing-wasm tarball. Debian ships the canonical text.
if [[ -f /usr/share/common-licenses/Apache-2.0 ]]; then
    cp /usr/share/common-licenses/Apache-2.0 "${BD_DIR}/LICENSE.zxing-cpp"
else
    echo "warning: /usr/share/common-licenses/Apache-2.0 not found; LICENSE.zxing-cpp not written." >&2
fi

# The IIFE exports ZXING_CPP_COMMIT as `e.ZXING_CPP_COMMIT=<var>` where <var> is
# a string constant defined earlier; recover it for the README (best effort).
ZXING_CPP_COMMIT="$(node -e '
    const src = require("fs").readFileSync(process.argv[1], "utf8");
    const m = src.match(/\.ZXING_CPP_COMMIT=([A-Za-z_$][\w$]*)/);
    const esc = (s) => s.replace(/[$]/g, "\\$");
    const c = m && src.match(new RegExp("[,;{\\s]" + esc(m[1]) + "=[`\x27\"]([0-9a-f]{40})[`\x27\"]"));
    process.stdout.write(c ? c[1] : "");
' "${BD_PKG}/${IIFE_SRC}" || true)"

[[ -f "${AXE_PKG}/axe.min.js" ]] || die "missing axe.min.js in axe-core."
AXE_LICENSE="$(pkg_field "${AXE_PKG}/package.json" license)"
echo "Copying into ${AXE_DIR} ..."
rm -rf -- "${AXE_DIR}"
mkdir -p "${AXE_DIR}"
cp "${AXE_PKG}/axe.min.js" "${AXE_DIR}/axe.min.js"
cp "${AXE_PKG}/LICENSE" "${AXE_DIR}/LICENSE"
echo "${AXE_CORE_VERSION}" > "${AXE_DIR}/VERSION"
axe_sha="$(sha256sum "${AXE_DIR}/axe.min.js" | cut -d' ' -f1)"

iife_sha="$(sha256sum "${BD_DIR}/barcode-detector.iife.js" | cut -d' ' -f1)"

cat > "${VENDOR_DIR}/README.md" <<EOF
# Vendored front-end libraries

Generated by \`scripts/vendor_static.sh\`; do not edit by hand. These files are
committed so that installing or running the project never needs npm.
To upgrade, change the pins in the script, run it, run the scanner e2e test,
and commit the result.

| Package | Version | Licence | Source file in the npm tarball | Vendored as |
| --- | --- | --- | --- | --- |
| barcode-detector | ${BARCODE_DETECTOR_VERSION} | ${BD_LICENSE} | \`${IIFE_SRC}\` | \`barcode-detector/barcode-detector.iife.js\` |
| zxing-wasm | ${ZXING_WASM_VERSION} | ${ZW_LICENSE} (embeds ZXing-C++, Apache-2.0${ZXING_CPP_COMMIT:+, commit ${ZXING_CPP_COMMIT}}) | \`${WASM_SRC}\` | \`barcode-detector/zxing_reader.wasm\` |
| axe-core | ${AXE_CORE_VERSION} | ${AXE_LICENSE} | \`axe.min.js\` | \`axe-core/axe.min.js\` (browser tests only) |

Licences: \`barcode-detector/LICENSE.barcode-detector\`,
\`barcode-detector/LICENSE.zxing-wasm\`, \`barcode-detector/LICENSE.zxing-cpp\`,
\`axe-core/LICENSE\`.

npm integrity:

- barcode-detector@${BARCODE_DETECTOR_VERSION}: \`${BARCODE_DETECTOR_INTEGRITY}\`
- zxing-wasm@${ZXING_WASM_VERSION}: \`${ZXING_WASM_INTEGRITY}\`
- axe-core@${AXE_CORE_VERSION}: \`${AXE_CORE_INTEGRITY}\`

SHA-256:

- \`barcode-detector/barcode-detector.iife.js\`: \`${iife_sha}\`
- \`barcode-detector/zxing_reader.wasm\`: \`${wasm_sha}\` (same as \`ZXING_WASM_SHA256\` in the IIFE)
- \`axe-core/axe.min.js\`: \`${axe_sha}\`

## Usage notes

\`barcode-detector.iife.js\` is the *ponyfill* IIFE build: it defines
\`window.BarcodeDetectionAPI\` (\`BarcodeDetector\`, \`prepareZXingModule\`, ...)
and does not touch \`window.BarcodeDetector\`. Out of the box it would fetch the
wasm from a public CDN; \`static/js/scanner.js\` calls
\`BarcodeDetectionAPI.prepareZXingModule({overrides: {locateFile}})\` so the
wasm is loaded from our own static URL (the \`data-wasm-url\` attribute of the
scanner page). Serve \`.wasm\` as \`application/wasm\`, and allow
\`'wasm-unsafe-eval'\` in \`script-src\`.

\`axe-core/axe.min.js\` is not used by any page: the browser tests
(\`tests/e2e/test_accessibility.py\`) evaluate it in each page they visit.
EOF

echo "Done:"
ls -l "${BD_DIR}"
