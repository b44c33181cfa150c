SUMMARY = "Reel appliance: reeld, its bundle, ONNX Runtime and GStreamer elements"
DESCRIPTION = "Everything reeld needs at run time that shared-library dependencies do not \
               pull in: the default model bundle, ONNX Runtime with TensorRT (loaded with \
               dlopen) and the GStreamer elements the pipeline probes."
SECTION = "multimedia"
LICENSE = "MIT"

PACKAGE_ARCH = "${MACHINE_ARCH}"

inherit packagegroup

# ONNX Runtime with the TensorRT and CUDA providers: meta-tegra-community's onnxruntime on
# wrynose. scarthgap's meta-tegra-community has no onnxruntime recipe: point this at one from
# another layer (see yocto/meta-reel/README.md).
REEL_ONNXRUNTIME ?= "onnxruntime"

# H.264: the NVIDIA encoder where the module has one, x264 everywhere (Orin Nano has no
# hardware encoder; gstreamer1.0-plugins-ugly needs PACKAGECONFIG x264 and the commercial
# licence flag). AAC through libav's avenc_aac.
REEL_GST_ELEMENTS = "\
    gstreamer1.0-libav \
    gstreamer1.0-plugins-bad-videoparsersbad \
    gstreamer1.0-plugins-base-app \
    gstreamer1.0-plugins-base-audioconvert \
    gstreamer1.0-plugins-base-audioresample \
    gstreamer1.0-plugins-base-playback \
    gstreamer1.0-plugins-base-typefindfunctions \
    gstreamer1.0-plugins-base-videoconvertscale \
    gstreamer1.0-plugins-good-audioparsers \
    gstreamer1.0-plugins-good-isomp4 \
    gstreamer1.0-plugins-nvdrmvideosink \
    gstreamer1.0-plugins-nvvidconv \
    gstreamer1.0-plugins-nvvideo4linux2 \
    gstreamer1.0-plugins-ugly-x264 \
"

RDEPENDS:${PN} = "\
    ${REEL_GST_ELEMENTS} \
    ${REEL_ONNXRUNTIME} \
    reel \
    reel-bundle-default \
    tensorrt-core \
"
