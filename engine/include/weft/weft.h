#pragma once
// Everything a driver program or kernel library needs.

#include "weft/cluster.h"
#include "weft/errors.h"
#include "weft/future.h"
#include "weft/kernel.h"
#include "weft/process.h"
#include "weft/value.h"
