// A shared object that is not a Weft kernel library (no entry point).
extern "C" int some_function(int x)
{
    return x + 1;
}
