// Float -> integer conversions with every rounding mode, saturation and NaN (cvt.rni/rzi/rmi/rpi:
// out of range saturates, NaN becomes 0), float -> unsigned of negatives, 64-bit targets,
// __saturatef (cvt.sat.f32: clamps to [0, 1], NaN -> 0), and double -> float rounding modes.
#define NC 12
extern "C" __global__ void float_convert(const float *__restrict__ x, const double *__restrict__ d,
                                         unsigned *__restrict__ out, unsigned long long *__restrict__ out64,
                                         int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n)
        return;
    float f = x[i];
    unsigned *o = out + NC * i;
    o[0] = (unsigned)__float2int_rn(f);
    o[1] = (unsigned)__float2int_rz(f);
    o[2] = (unsigned)__float2int_rd(f);
    o[3] = (unsigned)__float2int_ru(f);
    o[4] = __float2uint_rn(f);
    o[5] = (unsigned)(int)f;
    o[6] = __float_as_uint(__saturatef(f));
    o[7] = __float_as_uint(rintf(f));
    o[8] = __float_as_uint(__double2float_rn(d[i]));
    o[9] = __float_as_uint(__double2float_rz(d[i]));
    o[10] = __float_as_uint(__double2float_rd(d[i]));
    o[11] = __float_as_uint(__double2float_ru(d[i]));
    out64[2 * i] = (unsigned long long)__float2ll_rz(f);
    out64[2 * i + 1] = __double2ull_rn(d[i]);
}
