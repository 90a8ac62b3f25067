// Host-only translation unit: its fatbin holds PTX with no kernels.
#include <cstdio>

int main()
{
    std::puts("gpool fatbin test program");
    return 0;
}
