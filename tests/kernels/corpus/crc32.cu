// Corpus: table-driven CRC-32 of fixed-size chunks (one thread per chunk), the 256-entry table
// built by a kernel into shared memory, bytes read through 32-bit words and __byte_perm.
extern "C" __global__ void crc32_chunks(const unsigned *data, int words_per_chunk, int chunks, unsigned *crc)
{
    __shared__ unsigned table[256];
    for (int i = threadIdx.x; i < 256; i += blockDim.x) {
        unsigned c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        table[i] = c;
    }
    __syncthreads();
    int ch = blockIdx.x * blockDim.x + threadIdx.x;
    if (ch >= chunks)
        return;
    const unsigned *p = data + (size_t)ch * words_per_chunk;
    unsigned c = 0xffffffffu;
    for (int w = 0; w < words_per_chunk; w++) {
        unsigned v = p[w];
        for (int b = 0; b < 4; b++)
            c = table[(c ^ __byte_perm(v, 0, b)) & 0xff] ^ (c >> 8);
    }
    crc[ch] = ~c;
}
