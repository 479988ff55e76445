package dev.tern.tensor;

/**
 * Upper bounds on quantization error (RMSE relative to the data's RMS) per type. A b-bit
 * uniform quantizer over a block's range has error around range/(2^b·√12); these bounds sit
 * about twice above what the types reach on Gaussian data, so a broken layout (errors of order
 * 1) cannot pass.
 */
final class RoundTripBounds {
    private RoundTripBounds() {
    }

    static double relativeRmse(GGMLType type) {
        return switch (type) {
            case F16 -> 0.0005;
            case BF16 -> 0.004;
            case Q8_0 -> 0.01;
            case Q6_K -> 0.035;
            case Q5_0, Q5_1, Q5_K -> 0.08;
            case Q4_0, Q4_1, Q4_K, IQ4_NL, IQ4_XS -> 0.16;
            // its scale 2^(⌊log2 amax⌋−3) leaves a block's largest value up to 25% clipped (top level 12·scale)
            case MXFP4 -> 0.25;
            case Q3_K -> 0.3;
            case Q2_K -> 0.6;
            // d is the block's largest magnitude, so most Gaussian values round to 0: they reach 0.81, values in
            // the wrong places about 1.47
            case TQ1_0, TQ2_0 -> 0.85;
            default -> throw new IllegalArgumentException(type.toString());
        };
    }
}
