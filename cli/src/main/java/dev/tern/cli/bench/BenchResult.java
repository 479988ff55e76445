package dev.tern.cli.bench;

/**
 * One bench test, named and measured as llama-bench reports it ("pp512", "tg128", "pp512+tg128", with depth),
 * plus the memory-wall figures for decode tests (zero for prompt tests).
 */
public record BenchResult(String test, int nPrompt, int nGen, int nDepth, int nThreads, double avgTs, double stddevTs,
                          long modelBytes, long parameters, long bytesPerToken, double gbps, double rooflinePct,
                          String mode) {
    /** A generation test alone, which has the memory-wall figures (a prompt-then-generation test has none). */
    public boolean decode() {
        return nGen > 0 && nPrompt == 0;
    }
}
