// Corpus: batched 4x4 matrix products and inverses (one thread per matrix, fully in registers /
// local arrays), e.g. for graphics transforms; Gauss-Jordan with partial pivoting.
extern "C" __global__ void batched_mat4(const float *A, const float *B, float *C, float *Ainv, int batch)
{
    int b = blockIdx.x * blockDim.x + threadIdx.x;
    if (b >= batch)
        return;
    float a[4][4], m[4][8];
    for (int i = 0; i < 16; i++)
        a[i / 4][i % 4] = A[b * 16 + i];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) {
            float s = 0.0f;
            for (int k = 0; k < 4; k++)
                s = fmaf(a[i][k], B[b * 16 + k * 4 + j], s);
            C[b * 16 + i * 4 + j] = s;
        }
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 8; j++)
            m[i][j] = j < 4 ? a[i][j] : (j - 4 == i ? 1.0f : 0.0f);
    for (int c = 0; c < 4; c++) {
        int piv = c;
        for (int r = c + 1; r < 4; r++)
            if (fabsf(m[r][c]) > fabsf(m[piv][c]))
                piv = r;
        for (int j = 0; j < 8; j++) {
            float t = m[c][j];
            m[c][j] = m[piv][j];
            m[piv][j] = t;
        }
        float inv = 1.0f / m[c][c];
        for (int j = 0; j < 8; j++)
            m[c][j] *= inv;
        for (int r = 0; r < 4; r++)
            if (r != c) {
                float f = m[r][c];
                for (int j = 0; j < 8; j++)
                    m[r][j] -= f * m[c][j];
            }
    }
    for (int i = 0; i < 16; i++)
        Ainv[b * 16 + i] = m[i / 4][4 + i % 4];
}
