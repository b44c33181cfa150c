SUMMARY = "Reel kiosk firmware: reeld and a full-screen kiosk browser on Weston"
DESCRIPTION = "A visitor types a prompt on the kiosk page and the clip plays on the screen: \
               reeld (systemd, hardened) with the default bundle, ONNX Runtime with \
               TensorRT, GStreamer with the NVIDIA elements, Weston in kiosk mode with cog \
               or Chromium, and optionally mosquitto."
SECTION = "images"
LICENSE = "MIT"

inherit core-image features_check

REQUIRED_DISTRO_FEATURES = "systemd wayland opengl"

IMAGE_FEATURES += "weston hwcodecs"

# mqtt-broker: a local mosquitto for reeld; bridge it to the fleet with
# /usr/share/doc/reel/mosquitto-bridge.conf.example. Set to "" to leave it out.
REEL_IMAGE_FEATURES ?= "mqtt-broker"

IMAGE_INSTALL = "\
    packagegroup-core-boot \
    packagegroup-reel \
    reel-kiosk \
    ${@bb.utils.contains('REEL_IMAGE_FEATURES', 'mqtt-broker', 'mosquitto', '', d)} \
    ${CORE_IMAGE_EXTRA_INSTALL} \
"

SYSTEMD_DEFAULT_TARGET = "graphical.target"
