// Must not compile: ui/ and the desktop app see the engine's public headers only. CTest builds
// this against weft::ui and expects the include to be missing (test ui_cannot_include_internals).
#include "process_runtime.h"

int main()
{
    return 0;
}
