package dev.tern.engine;

/**
 * Where the time of one generation went, named as llama.cpp's server names it. Prompt time ends
 * when the logits after the prompt are ready; predicted time covers every generated token after
 * that (sampling included).
 */
public record Timings(int promptN, double promptMs, int predictedN, double predictedMs, double firstTokenMs) {

    public double promptPerSecond() {
        return promptN == 0 || promptMs == 0 ? 0 : promptN * 1000.0 / promptMs;
    }

    public double predictedPerSecond() {
        return predictedN == 0 || predictedMs == 0 ? 0 : predictedN * 1000.0 / predictedMs;
    }
}
