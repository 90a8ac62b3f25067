// Corpus: all-pairs N-body force step with shared-memory tiles of float4 bodies, rsqrtf and a
// softening term, then a leapfrog integration kernel.
extern "C" __global__ void nbody_forces(const float4 *__restrict__ pos, float3 *__restrict__ acc, int n, float eps2)
{
    __shared__ float4 tile[128];
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    float4 p = i < n ? pos[i] : make_float4(0, 0, 0, 0);
    float3 a = make_float3(0, 0, 0);
    for (int base = 0; base < n; base += 128) {
        int j = base + threadIdx.x;
        tile[threadIdx.x] = j < n ? pos[j] : make_float4(0, 0, 0, 0);
        __syncthreads();
#pragma unroll 8
        for (int k = 0; k < 128; k++) {
            float4 q = tile[k];
            float dx = q.x - p.x, dy = q.y - p.y, dz = q.z - p.z;
            float r2 = dx * dx + dy * dy + dz * dz + eps2;
            float inv = rsqrtf(r2);
            float s = q.w * inv * inv * inv;
            a.x += dx * s, a.y += dy * s, a.z += dz * s;
        }
        __syncthreads();
    }
    if (i < n)
        acc[i] = a;
}

extern "C" __global__ void leapfrog(float4 *pos, float4 *vel, const float3 *acc, int n, float dt)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n)
        return;
    float4 v = vel[i], p = pos[i];
    v.x += acc[i].x * dt, v.y += acc[i].y * dt, v.z += acc[i].z * dt;
    p.x += v.x * dt, p.y += v.y * dt, p.z += v.z * dt;
    vel[i] = v;
    pos[i] = p;
}
