package dev.tern.cli.bench;

/** Mean and sample standard deviation. */
public record Stats(double mean, double stddev) {
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
