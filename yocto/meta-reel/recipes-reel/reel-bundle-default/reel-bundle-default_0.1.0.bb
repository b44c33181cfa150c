SUMMARY = "Reel's default model bundle"
DESCRIPTION = "The bundle reeld runs when a job names none, installed as \
               /usr/share/reel/bundles/default. Today this is the tiny random-weight bundle \
               from engines/bundles/tiny-random: it exercises the whole pipeline but makes \
               abstract colour and tone, not a picture of the prompt."
HOMEPAGE = "https://example.invalid/reel"
SECTION = "multimedia"
# The bundle's own licence, from its bundle.toml (`licence = "Apache-2.0"`).
LICENSE = "Apache-2.0"
LIC_FILES_CHKSUM = "file://${REEL_BUNDLE_DIR}/bundle.toml;beginline=8;endline=8;md5=4aba5e777e5431bc262af6a6c8434024"

SRC_URI = "git://example.invalid/reel.git;protocol=https;branch=main"
# As in reel.inc: the kas files build from the checkout; a release pins SRCREV.
# nooelint: oelint.vars.autorev
SRCREV ?= "${AUTOREV}"

# Another bundle in the source tree can be installed as the default instead.
REEL_BUNDLE_DIR ?= "engines/bundles/tiny-random"

inherit allarch

do_configure[noexec] = "1"
do_compile[noexec] = "1"

do_install() {
    install -d ${D}${datadir}/reel/bundles/default
    for f in ${S}/${REEL_BUNDLE_DIR}/*; do
        install -m 0644 "$f" ${D}${datadir}/reel/bundles/default/
    done
}

FILES:${PN} += "${datadir}/reel/bundles/default"
