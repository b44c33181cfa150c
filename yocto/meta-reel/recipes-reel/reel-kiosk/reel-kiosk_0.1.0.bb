SUMMARY = "Reel kiosk: a full-screen browser on the kiosk page"
DESCRIPTION = "Starts cog (WPE WebKit) or Chromium in kiosk mode on the page reeld serves on \
               loopback. Weston launches it from weston.ini's [autolaunch] section; see \
               meta-reel's weston-init.bbappend, active with the reel-kiosk distro override."
HOMEPAGE = "https://example.invalid/reel"
SECTION = "graphics"
LICENSE = "Apache-2.0"
LIC_FILES_CHKSUM = "file://reel-kiosk-browser;beginline=2;endline=2;md5=653b254f286b881bdce1d14afdede628"

SRC_URI = "file://reel-kiosk-browser"

# cog (meta-webkit) or chromium (meta-browser, chromium-ozone-wayland).
REEL_KIOSK_BROWSER ?= "cog"
REEL_KIOSK_URL ?= "http://127.0.0.1:8080/"

S = "${UNPACKDIR}"
# UNPACKDIR arrived after scarthgap; there, files unpack into WORKDIR.
UNPACKDIR ??= "${WORKDIR}"

inherit allarch

do_configure[noexec] = "1"
do_compile[noexec] = "1"

do_install() {
    install -d ${D}${bindir}
    sed -e 's,@BROWSER@,${REEL_KIOSK_BROWSER},g' -e 's,@URL@,${REEL_KIOSK_URL},g' \
        ${UNPACKDIR}/reel-kiosk-browser > ${D}${bindir}/reel-kiosk-browser
    chmod 0755 ${D}${bindir}/reel-kiosk-browser
}

RDEPENDS:${PN} = "${@'chromium-ozone-wayland' if d.getVar('REEL_KIOSK_BROWSER') == 'chromium' else 'cog'}"
