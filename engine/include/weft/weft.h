#pragma once
// Everything a driver program or kernel library needs.

#include "weft/channel.h"
#include "weft/cluster.h"
#include "weft/cluster_manager.h"
#include "weft/errors.h"
#include "weft/future.h"
#include "weft/inspect.h"
#include "weft/kernel.h"
#include "weft/patterns.h"
#include "weft/process.h"
#include "weft/remote_channel.h"
#include "weft/ssh.h"
#include "weft/telemetry.h"
#include "weft/threads.h"
#include "weft/value.h"
