// Corpus: string manipulation: ASCII upper-casing with byte tricks on 32-bit words (__vcmpgeu4
// SIMD-in-a-word intrinsics), a per-thread substring search over fixed-length records, and
// newline counting with popc over ballots.
extern "C" __global__ void to_upper_words(unsigned *text, int nwords)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= nwords)
        return;
    unsigned w = text[i];
    unsigned ge_a = __vcmpgeu4(w, 0x61616161u), le_z = __vcmpleu4(w, 0x7a7a7a7au);
    text[i] = w ^ (ge_a & le_z & 0x20202020u);
}

extern "C" __global__ void find_in_records(const char *records, int reclen, int nrec, const char *pat,
                                           int patlen, int *pos)
{
    int r = blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= nrec)
        return;
    const char *s = records + (size_t)r * reclen;
    int found = -1;
    for (int i = 0; i + patlen <= reclen && found < 0; i++) {
        int k = 0;
        while (k < patlen && s[i + k] == pat[k])
            k++;
        if (k == patlen)
            found = i;
    }
    pos[r] = found;
}

extern "C" __global__ void count_lines(const char *text, int n, unsigned *count)
{
    unsigned c = 0;
    for (int base = blockIdx.x * blockDim.x; base < n; base += gridDim.x * blockDim.x) {
        int i = base + threadIdx.x;
        unsigned b = __ballot_sync(0xffffffffu, i < n && text[i] == '\n');
        c += __popc(b);
    }
    if ((threadIdx.x & 31) == 0)
        atomicAdd(count, c);
}
