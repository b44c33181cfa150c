# Only for the Reel kiosk (DISTROOVERRIDES has reel-kiosk, set by the kas files): Weston with the
# kiosk shell, no idle blanking, and the kiosk browser launched (and watched) by Weston itself.
# Without the override this layer leaves weston-init untouched.
FILESEXTRAPATHS:prepend:reel-kiosk := "${THISDIR}/weston-init:"
RDEPENDS:${PN}:append:reel-kiosk = " reel-kiosk"
