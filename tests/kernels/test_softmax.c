/* softmax: rows of varied length and range (including a row with a huge common offset, which the
 * max subtraction must absorb). expf has a 2-ulp bound and the sum has cols roundings, so each
 * element is checked against a double reference with a relative bound of 2e-5. */
#include "kernel_test.h"

int main(int argc, char **argv)
{
    kt_init(argc, argv);
    enum { ROWS = 24, COLS = 1000 };
    static float in[ROWS * COLS], got[ROWS * COLS];
    static double want[ROWS * COLS];
    for (int r = 0; r < ROWS; r++)
        for (int c = 0; c < COLS; c++)
            in[r * COLS + c] = kt_rand_f32(-8, 8) * (float)(r % 4 + 1) + (r == 5 ? 1000.0f : 0.0f);
    for (int r = 0; r < ROWS; r++) {
        const float *x = in + r * COLS;
        double m = -INFINITY, s = 0;
        for (int c = 0; c < COLS; c++)
            m = fmax(m, x[c]);
        for (int c = 0; c < COLS; c++)
            s += exp((double)x[c] - m);
        for (int c = 0; c < COLS; c++)
            want[r * COLS + c] = exp((double)x[c] - m) / s;
    }
    CUdeviceptr di = kt_upload(in, sizeof in), dout = kt_alloc(sizeof got);
    int cols = COLS;
    void *args[] = {&di, &dout, &cols};
    kt_launch(kt_func("softmax"), ROWS, 256, 0, args);
    kt_download(got, dout, sizeof got);
    kt_check_f32_rel("softmax", got, want, ROWS * COLS, 2e-5, 1e-37);
    return kt_done("kernel-softmax");
}
