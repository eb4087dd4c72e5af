// The camera plugin's entry point: CameraService on the kernel's V4L2.
#include <domian/plugin.hpp>

#include "plugins/camera/camera_service.h"

DOMIAN_SDK_PLUGIN(domian::camera::CameraService, (domian::camera::CameraPluginInfo()))
