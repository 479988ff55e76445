package dev.tern.cli.bench;

import java.util.Arrays;

/** Mean and sample standard deviation. */
public record Stats(double mean, double stddev) {
    /** The middle value (the mean of the two middle ones for an even count). */
    public static double median(double[] xs) {
        double[] s = xs.clone();
        Arrays.sort(s);
        int m = s.length / 2;
        return s.length % 2 == 1 ? s[m] : (s[m - 1] + s[m]) / 2;
    }

    public static Stats of(double[] xs) {
        double mean = 0;
        for (double x : xs) {
            mean += x;
        }
        mean /= xs.length;
        double var = 0;
        for (double x : xs) {
            var += (x - mean) * (x - mean);
        }
        return new Stats(mean, xs.length > 1 ? Math.sqrt(var / (xs.length - 1)) : 0);
    }
}
