package dev.tern.tensor;

/**
 * The rows and the importance row that the weighted quantizers' checksum files were made from
 * (the files' headers say the same): the rows are {@link IQ4ReferenceVectorsTest#checksumInput};
 * importance[j] = (d + 1)·2^(j%5 − 22) with d = s >>> 44 from s = 7, s = s·6364136223846793005 +
 * 1442695040888963407 mod 2^64 (one step per column), and 0 in columns j%97 == 5, as an
 * imatrix has for inputs that are never active. Every value is exact in float, so numpy makes the same.
 */
final class ImportanceInputs {
    private ImportanceInputs() {
    }

    static float[] values(int rows, int cols) {
        return IQ4ReferenceVectorsTest.checksumInput(rows, cols);
    }

    static float[] importance(int cols) {
        float[] w = new float[cols];
        long s = 7;
        for (int j = 0; j < cols; j++) {
            s = s * 6364136223846793005L + 1442695040888963407L;
            w[j] = j % 97 == 5 ? 0f : ((s >>> 44) + 1) * Math.scalb(1f, j % 5 - 22);
        }
        return w;
    }
}
