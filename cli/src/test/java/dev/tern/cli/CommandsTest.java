package dev.tern.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tern.testing.Adapters;
import dev.tern.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.lang.reflect.AnnotatedElement;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.IllegalFormatException;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.*;

/** The other commands against llama.cpp's numbers, and the shape of their failures. */
class CommandsTest {

    @Test
    void tokenizeMatchesLlamaCppPromptIds() {
        Cli r = Cli.run("tokenize", "-m", Fixtures.stories260K("stories260K-f32.gguf").toString(), "--bos", "Once upon a time");
        assertEquals(0, r.exitCode(), r.err());
        assertEquals("1 403 407 261 378", r.out().trim());
    }

    @Test
    void tokenizeTreatsSpecialTextLiterallyUnlessAsked() {
        String vocab = Fixtures.tokenizers().resolve("llama.cpp-vocab/ggml-vocab-gpt-2.gguf").toString();
        Cli literal = Cli.run("tokenize", "-m", vocab, "a<|endoftext|>");
        Cli parsed = Cli.run("tokenize", "-m", vocab, "--parse-special", "a<|endoftext|>");
        assertEquals("64 50256", parsed.out().trim());
        assertNotEquals(parsed.out().trim(), literal.out().trim());
        assertFalse(literal.out().contains("50256"), literal.out());
    }

    @Test
    void perplexityMatchesLlamaCpp() throws Exception {
        Path text = Fixtures.stories260K("reference/gpl3-12k.txt");
        assertPrintsLlamaCppPerplexity(Cli.run("perplexity", "-m", Fixtures.stories260K("stories260K-f32.gguf").toString(), "-f",
                text.toString(), "-c", "128"));
    }

    /** A run that succeeded with a last line {@code perplexity: P}, P within 0.2% of llama-perplexity's for stories260K F32 at -c 128. */
    private static void assertPrintsLlamaCppPerplexity(Cli r) throws Exception {
        assertEquals(0, r.exitCode(), r.err());
        String[] lines = r.out().trim().split("\n");
        Matcher m = Pattern.compile("perplexity: ([0-9.]+)").matcher(lines[lines.length - 1]);
        assertTrue(m.matches(), r.out());
        double expected = llamaCppPerplexity("f32 c=128");
        assertEquals(expected, Double.parseDouble(m.group(1)), expected * 0.002);
    }

    /** llama-perplexity's KL-divergence pair of runs: the base run prints its perplexity, the comparison its statistics. */
    @Test
    void klDivergenceAgainstABaseFile(@TempDir Path dir) throws Exception {
        Path text = Fixtures.stories260K("reference/gpl3-12k.txt");
        Path base = dir.resolve("base.kld");
        String f32 = Fixtures.stories260K("stories260K-f32.gguf").toString();
        assertPrintsLlamaCppPerplexity(Cli.run("perplexity", "-m", f32, "-f", text.toString(), "-c", "128", "--kl-divergence-base",
                base.toString()));
        Cli q = Cli.run("perplexity", "-m", Fixtures.stories260K("stories260K-f16.gguf").toString(), "--kl-divergence",
                "--kl-divergence-base", base.toString());
        assertEquals(0, q.exitCode(), q.err());
        assertTrue(q.out().contains("chunks: 58, positions: 3654"), q.out());
        Matcher m = Pattern.compile("kld: ([0-9.]+) ± ([0-9.]+)").matcher(q.out().trim().lines().reduce((x, y) -> y).orElseThrow());
        assertTrue(m.matches(), q.out());
        assertTrue(Double.parseDouble(m.group(1)) < 1e-3, "F16 weights stay close to F32: " + q.out());
        assertOneLineFailure(Cli.run("perplexity", "-m", f32, "-f", text.toString(), "--kl-divergence", "--kl-divergence-base",
                base.toString()), "not -f");
    }

    private static double llamaCppPerplexity(String key) throws Exception {
        return Files.readAllLines(Fixtures.stories260K("reference/perplexity-gpl3-12k.txt")).stream()
                .filter(l -> l.startsWith(key)).map(l -> Double.parseDouble(l.substring(l.lastIndexOf('=') + 1).trim()))
                .findFirst().orElseThrow();
    }

    /**
     * llama-imatrix's run: the perplexity it prints on the way is llama-perplexity's, and llama-quantize records
     * the matrix it was given.
     */
    @Test
    void imatrixThenQuantizeWithIt(@TempDir Path dir) throws Exception {
        Path text = Fixtures.stories260K("reference/gpl3-12k.txt");
        Path imatrix = dir.resolve("imatrix.gguf");
        String model = Fixtures.stories260K("stories260K-f32.gguf").toString();
        assertPrintsLlamaCppPerplexity(Cli.run("imatrix", "-m", model, "-f", text.toString(), "-c", "128", "-o", imatrix.toString()));
        Path q = dir.resolve("q8.gguf");
        Cli quantize = Cli.run("quantize", "--imatrix", imatrix.toString(), model, q.toString(), "Q4_K_M");
        assertEquals(0, quantize.exitCode(), quantize.err());
        Cli info = Cli.run("info", "-m", q.toString());
        assertTrue(info.out().contains("imatrix:       " + imatrix + " (35 weights, 58 chunks, from " + text + ")"), info.out());
        Cli about = Cli.run("info", "-m", imatrix.toString());
        assertTrue(about.out().contains("imatrix:       35 weights, 58 chunks of 128 tokens, from " + text), about.out());
        Cli stats = Cli.run("imatrix", "--show-statistics", "--in-file", imatrix.toString());
        assertEquals(0, stats.exitCode(), stats.err());
        // 7 weights in each of stories260K's 5 layers, then one line per layer
        assertEquals(5, stats.out().lines().filter(l -> l.matches("\\s+\\d+\\s+attn_q .*")).count(), stats.out());
        assertTrue(stats.out().lines().anyMatch(l -> l.matches("\\s+4\\s+[0-9.]+\\s+[0-9.]+%\\s+0\\.\\d{4}")), stats.out());
        assertOneLineFailure(Cli.run("imatrix", "--show-statistics"), "exactly one --in-file");

        assertOneLineFailure(Cli.run("quantize", "--imatrix", dir.resolve("none.gguf").toString(), model, q.toString(), "Q8_0"),
                "no such file");
        assertOneLineFailure(Cli.run("imatrix", "-m", model, "-f", text.toString(), "-c", "8"), "at least 16");
        Path twice = dir.resolve("twice.gguf");
        Cli merge = Cli.run("imatrix", "--in-file", imatrix.toString(), "--in-file", imatrix.toString(), "-c", "128", "-o", twice.toString());
        assertEquals(0, merge.exitCode(), merge.err());
        assertTrue(Cli.run("info", "-m", twice.toString()).out().contains("imatrix:       35 weights, 116 chunks of 128 tokens"));
        assertOneLineFailure(Cli.run("quantize", "--imatrix", imatrix.toString(), "--include-weights", "ffn", "--exclude-weights", "attn",
                model, q.toString(), "Q4_K_M"), "cannot be used together");
        assertOneLineFailure(Cli.run("quantize", "--tensor-type", "attn_v", model, q.toString(), "Q4_K_M"), "is not PATTERN=TYPE");
        assertOneLineFailure(Cli.run("quantize", "--tensor-type", "attn_v(=q8_0", model, q.toString(), "Q4_K_M"), "in the pattern");
    }

    /** llama-quantize's --dry-run, --allow-requantize and its default output name. */
    @Test
    void quantizeDryRunRequantizeAndDefaultName(@TempDir Path dir) throws Exception {
        Cli dry = Cli.run("quantize", "--dry-run", Fixtures.stories15M("stories15M-distilled-f32.gguf").toString(), "Q4_K_M");
        assertEquals(0, dry.exitCode(), dry.err());
        assertTrue(dry.out().contains("blk.5.ffn_down.weight            [1024, 512]              F32 -> Q6_K"), dry.out());
        // the sizes of llama.cpp's own Q4_K_M file of the model, whose tensors are the same types
        long expected;
        try (dev.tern.gguf.GGUFFile f = dev.tern.gguf.GGUFFile.open(Fixtures.stories15M("stories15M-distilled-q4_k_m.gguf"))) {
            expected = f.tensors().stream().mapToLong(dev.tern.gguf.GGUFTensorInfo::byteSize).sum();
        }
        assertTrue(dry.out().contains(String.format("-> %.2f MiB", expected / 1048576.0)), dry.out());

        Path q8 = Fixtures.stories15M("stories15M-distilled-q8_0.gguf");
        assertOneLineFailure(Cli.run("quantize", q8.toString(), dir.resolve("r.gguf").toString(), "Q4_K_M"), "--allow-requantize");
        Cli again = Cli.run("quantize", "--allow-requantize", q8.toString(), dir.resolve("r.gguf").toString(), "Q4_K_M");
        assertEquals(0, again.exitCode(), again.err());

        Path f32 = dir.resolve("tiny-f32.gguf");
        assertEquals(0, Cli.run("random-model", f32.toString(), "--dim", "64", "--ffn", "128", "--layers", "1", "--heads", "4",
                "--kv-heads", "2", "--vocab", "300", "--ctx", "64", "--type", "F32").exitCode());
        assertEquals(0, Cli.run("quantize", f32.toString(), "q8_0").exitCode());
        assertTrue(Files.exists(dir.resolve("ggml-model-Q8_0.gguf")));
    }

    /** llama-gguf-split's split and merge; a split model runs from its first part. */
    @Test
    void ggufSplitThenRunThenMerge(@TempDir Path dir) {
        String model = Fixtures.stories15M("stories15M-distilled-q8_0.gguf").toString();
        Path prefix = dir.resolve("q8");
        Cli dry = Cli.run("gguf-split", "--split-max-tensors", "30", "--dry-run", model, prefix.toString());
        assertEquals(0, dry.exitCode(), dry.err());
        assertTrue(dry.out().startsWith("n_split: 2\nsplit 00001: n_tensors = 30"), dry.out());
        assertFalse(Files.exists(dir.resolve("q8-00001-of-00002.gguf")));
        Cli split = Cli.run("gguf-split", "--split-max-tensors", "30", model, prefix.toString());
        assertEquals(0, split.exitCode(), split.err());
        Path first = dir.resolve("q8-00001-of-00002.gguf");
        assertTrue(Files.exists(first) && Files.exists(dir.resolve("q8-00002-of-00002.gguf")), split.out());
        assertTrue(Cli.run("info", "-m", first.toString()).out().contains(" in 2 parts)"));

        Cli whole = Cli.run("run", "-m", model, "-n", "12", "--temp", "0", "Once upon a time");
        Cli parts = Cli.run("run", "-m", first.toString(), "-n", "12", "--temp", "0", "Once upon a time");
        assertEquals(0, parts.exitCode(), parts.err());
        assertEquals(whole.out(), parts.out());

        Cli keep = Cli.run("quantize", "--keep-split", "--allow-requantize", first.toString(), dir.resolve("q4.gguf").toString(), "Q4_0");
        assertEquals(0, keep.exitCode(), keep.err());
        assertTrue(keep.err().startsWith("wrote " + dir.resolve("q4-00001-of-00002.gguf") + ", " + dir.resolve("q4-00002-of-00002.gguf")), keep.err());
        assertEquals(0, Cli.run("run", "-m", dir.resolve("q4-00001-of-00002.gguf").toString(), "-n", "3", "hi").exitCode());

        Path merged = dir.resolve("merged.gguf");
        Cli merge = Cli.run("gguf-split", "--merge", first.toString(), merged.toString());
        assertEquals(0, merge.exitCode(), merge.err());
        assertEquals(whole.out(), Cli.run("run", "-m", merged.toString(), "-n", "12", "--temp", "0", "Once upon a time").out());

        assertOneLineFailure(Cli.run("gguf-split", "--split-max-size", "2T", model, prefix.toString()), "M or G");
        assertOneLineFailure(Cli.run("gguf-split", "--merge", first.toString(), merged.toString()), "already exists");
        assertOneLineFailure(Cli.run("run", "-m", dir.resolve("q8-00002-of-00002.gguf").toString(), "hi"), "open its first part");
    }

    @Test
    void infoDescribesTheModel() {
        Cli r = Cli.run("info", "-m", Fixtures.stories15M("stories15M-distilled-q4_k_m.gguf").toString());
        assertEquals(0, r.exitCode(), r.err());
        assertTrue(r.out().contains("architecture:  llama"), r.out());
        assertTrue(r.out().contains("Q4_K"), r.out());
    }

    @Test
    void randomModelThenQuantizeThenRun(@TempDir Path dir) {
        Path f32 = dir.resolve("tiny-f32.gguf");
        Path q8 = dir.resolve("tiny-q8_0.gguf");
        assertEquals(0, Cli.run("random-model", f32.toString(), "--dim", "64", "--ffn", "128", "--layers", "2", "--heads", "4",
                "--kv-heads", "2", "--vocab", "300", "--ctx", "64", "--type", "F32").exitCode());
        Cli q = Cli.run("quantize", f32.toString(), q8.toString(), "q8_0");
        assertEquals(0, q.exitCode(), q.err());
        Cli info = Cli.run("info", "-m", q8.toString());
        assertTrue(info.out().contains("Q8_0"), info.out());
        Cli run = Cli.run("run", "-m", q8.toString(), "-n", "5", "--temp", "0", "--format", "json", "hello");
        assertEquals(0, run.exitCode(), run.err());
        assertTrue(run.out().contains("\"predicted_n\":5"), run.out());
        // llama-quantize's mixes by their names; rows of 64 fit no Q4_K block, so, as llama.cpp does, Q4_K_M gives
        // the output Q8_0 (not Q6_K) and the other matrices Q4_K's fallback Q5_0
        Path mix = dir.resolve("tiny-q4_k_m.gguf");
        Cli m = Cli.run("quantize", f32.toString(), mix.toString(), "q4_k_m");
        assertEquals(0, m.exitCode(), m.err());
        Cli mixInfo = Cli.run("info", "-m", mix.toString(), "--tensors");
        assertTrue(mixInfo.out().contains("output.weight Q8_0") && mixInfo.out().contains("attn_q.weight Q5_0"), mixInfo.out());
        assertTrue(mixInfo.out().contains("file type:     Q4_K_M"), mixInfo.out());
        // Q4_0 as llama-quantize writes it by default (output Q6_K, here Q8_0 by its fallback) and with --pure (all Q4_0)
        Path q4 = dir.resolve("tiny-q4_0.gguf"), pure = dir.resolve("tiny-q4_0-pure.gguf");
        assertEquals(0, Cli.run("quantize", f32.toString(), q4.toString(), "Q4_0").exitCode());
        assertEquals(0, Cli.run("quantize", "--pure", f32.toString(), pure.toString(), "Q4_0").exitCode());
        assertTrue(Cli.run("info", "-m", q4.toString(), "--tensors").out().contains("output.weight Q8_0"));
        assertTrue(Cli.run("info", "-m", pure.toString(), "--tensors").out().contains("output.weight Q4_0"));
    }

    @Test
    void benchReportsLlamaBenchFieldsAndTheMemoryWall() throws Exception {
        Cli r = Cli.run("bench", "-m", Fixtures.stories260K("stories260K-f32.gguf").toString(), "-p", "16", "-n", "8",
                "-d", "0,32", "-r", "2", "-o", "json", "--recompute", "--warmup", "0");
        assertEquals(0, r.exitCode(), r.err());
        var json = new com.fasterxml.jackson.databind.ObjectMapper().readTree(r.out());
        assertEquals(6, json.size(), r.out());
        var tg = json.get(1);
        assertEquals("tg8", tg.get("test").asText());
        assertEquals("cached", tg.get("mode").asText());
        assertTrue(tg.get("avg_ts").asDouble() > 0);
        assertTrue(List.of(128, 256, 512).contains(tg.get("vector_bits").asInt()), tg.toString());
        assertFalse(tg.get("cpu_info").asText().isBlank(), tg.toString());
        assertTrue(r.err().contains("cpu: " + tg.get("cpu_info").asText() + ", "), r.err());
        // 5 layers x 7 matrices + output (tied: the 512x64 embedding), F32, plus the F16 KV cache at depth 4
        long weights = 4L * (5 * (64 * 64 + 2 * 64 * 32 + 64 * 64 + 3 * 64 * 172) + 512 * 64);
        long kv = Math.round(2.0 * 5 * 32 * 2 * 4);
        assertEquals(weights + kv, tg.get("bytes_per_token").asLong());
        assertEquals("recompute", json.get(2).get("mode").asText());
        assertEquals("pp16 @ d32", json.get(3).get("test").asText());
        assertEquals(32, json.get(3).get("n_depth").asInt());
    }

    /** llama-bench's -pg: a prompt then generation, one test each, named pp+tg, without the decode-only figures. */
    @Test
    void benchRunsPromptThenGenerationTests() throws Exception {
        String model = Fixtures.stories260K("stories260K-f32.gguf").toString();
        Cli r = Cli.run("bench", "-m", model, "-p", "0", "-n", "0", "-pg", "16,8", "-pg", "8,4", "-d", "0,32", "-r", "2",
                "-o", "json", "--warmup", "0");
        assertEquals(0, r.exitCode(), r.err());
        var json = new com.fasterxml.jackson.databind.ObjectMapper().readTree(r.out());
        assertEquals(4, json.size(), r.out());
        String[] names = {"pp16+tg8", "pp8+tg4", "pp16+tg8 @ d32", "pp8+tg4 @ d32"};
        for (int i = 0; i < 4; i++) {
            var t = json.get(i);
            assertEquals(names[i], t.get("test").asText());
            assertEquals(i % 2 == 0 ? 16 : 8, t.get("n_prompt").asInt());
            assertEquals(i % 2 == 0 ? 8 : 4, t.get("n_gen").asInt());
            assertEquals(i < 2 ? 0 : 32, t.get("n_depth").asInt());
            assertTrue(t.get("avg_ts").asDouble() > 0, t.toString());
            assertFalse(t.has("bytes_per_token"), "a prompt's tokens are not each a read of the weights: " + t);
        }
        Cli md = Cli.run("bench", "-m", model, "-p", "0", "-n", "0", "-pg", "8,4", "-r", "1", "--warmup", "0");
        assertTrue(md.out().contains("| pp8+tg4 | cached |"), md.out());
        Cli invariant = Cli.run("bench", "-m", model, "-p", "0", "-n", "0", "-pg", "8,4", "-r", "1", "--warmup", "0", "--batch-invariant");
        assertTrue(invariant.out().contains("| pp8+tg4 | batch-invariant |"), "results say how the model was loaded: " + invariant.out());
        assertOneLineFailure(Cli.run("bench", "-m", model, "-pg", "16"), "-pg takes two positive counts, prompt and generation");
        assertOneLineFailure(Cli.run("bench", "-m", model, "-pg", "16,x"), "-pg takes two positive counts, prompt and generation");
    }

    /**
     * llama.cpp's --prompt-cache: the second run restores all of the prompt but its last token
     * (prompt_n 1) and writes what a run without the cache writes, with speculation too; read-only leaves no
     * file; a cache of another model is a one-line error.
     */
    @Test
    void promptCacheSkipsThePromptAndKeepsTheAnswer(@TempDir Path dir) throws Exception {
        String model = Fixtures.stories15M("stories15M-distilled-f32.gguf").toString();
        String prompt = "Once upon a time, there was a little girl named Lily.";
        Path cache = dir.resolve("prompt.kv");
        var mapper = new com.fasterxml.jackson.databind.ObjectMapper();
        Cli plain = Cli.run("run", "-m", model, "--temp", "0", "-n", "24", "--format", "json", prompt);
        assertEquals(0, plain.exitCode(), plain.err());
        var want = mapper.readTree(plain.out());
        int n = want.get("prompt_tokens").size();
        for (int run = 0; run < 2; run++) {
            Cli r = Cli.run("run", "-m", model, "--temp", "0", "-n", "24", "--format", "json", "--prompt-cache", cache.toString(), prompt);
            assertEquals(0, r.exitCode(), r.err());
            int restored = run == 0 ? 0 : n - 1;
            assertTrue(r.err().contains("prompt cache: " + restored + " of " + n + " prompt tokens restored"), r.err());
            var got = mapper.readTree(r.out());
            assertEquals(n - restored, got.get("timings").get("prompt_n").asInt(), r.out());
            assertEquals(restored, got.get("timings").get("cache_n").asInt(), r.out());
            assertEquals(want.get("prompt_tokens"), got.get("prompt_tokens"));
            assertEquals(want.get("tokens"), got.get("tokens"), "run " + run);
            assertTrue(Files.size(cache) > 0);
        }
        Path readOnly = dir.resolve("ro.kv");
        assertEquals(0, Cli.run("run", "-m", model, "-n", "4", "--prompt-cache", readOnly.toString(), "--prompt-cache-ro", prompt).exitCode());
        assertFalse(Files.exists(readOnly), "read-only: nothing written");
        assertOneLineFailure(Cli.run("run", "-m", Fixtures.stories15M("stories15M-distilled-q8_0.gguf").toString(), "-n", "4",
                "--prompt-cache", cache.toString(), prompt), "the KV cache file was made with another model");
        // Speculation after a restored prompt: the proposers see the whole prompt, the answer stays the plain one.
        for (String[] spec : new String[][]{{"--spec", "ngram"}, {"--draft-model", Fixtures.stories260K("stories260K-f32.gguf").toString()}}) {
            Cli r = Cli.run("run", "-m", model, "--temp", "0", "-n", "24", "--format", "json", "--prompt-cache", cache.toString(),
                    "--prompt-cache-ro", spec[0], spec[1], prompt);
            assertEquals(0, r.exitCode(), r.err());
            var got = mapper.readTree(r.out());
            assertEquals(n - 1, got.get("timings").get("cache_n").asInt(), r.out());
            assertEquals(want.get("tokens"), got.get("tokens"), spec[0]);
            assertTrue(got.has("speculative"), r.out());
        }
        assertOneLineFailure(Cli.run("run", "-m", model, "-n", "4", "--prompt-cache", dir.resolve("none/p.kv").toString(), prompt),
                "cannot write the prompt cache there (no writable directory");
    }

    /** llama-cli's -sys is --system. */
    @Test
    void chatTakesLlamaClisSystemFlag() {
        Cli a = Cli.runWithInput("Tell me a story.\n", "chat", "--temp", "0", "-n", "12", "--system", "You tell stories.");
        Cli b = Cli.runWithInput("Tell me a story.\n", "chat", "--temp", "0", "-n", "12", "-sys", "You tell stories.");
        Cli none = Cli.runWithInput("Tell me a story.\n", "chat", "--temp", "0", "-n", "12");
        assertEquals(0, b.exitCode(), b.err());
        assertEquals(a.out(), b.out());
        assertTrue(promptTokens(b) > promptTokens(none), "the system message is in the prompt: " + b.err());
        assertEquals(promptTokens(a), promptTokens(b));
    }

    private static int promptTokens(Cli chat) {
        var m = java.util.regex.Pattern.compile("\\[(\\d+) new prompt tokens").matcher(chat.err());
        assertTrue(m.find(), chat.err());
        return Integer.parseInt(m.group(1));
    }

    @Test
    void chatKeepsTheCacheBetweenTurns() {
        Cli r = Cli.runWithInput("Tell me a story.\nAnd another one.\n", "chat", "--temp", "0", "-n", "20");
        assertEquals(0, r.exitCode(), r.err());
        Matcher turns = Pattern.compile("\\[(\\d+) new prompt tokens \\((\\d+) reused from cache\\), (\\d+) generated").matcher(r.err());
        assertTrue(turns.find(), r.err());
        assertEquals(0, Integer.parseInt(turns.group(2)), "first turn starts from an empty cache");
        int firstTotal = Integer.parseInt(turns.group(1)) + Integer.parseInt(turns.group(3));
        assertTrue(turns.find(), r.err());
        int reused = Integer.parseInt(turns.group(2));
        assertTrue(reused > 0 && reused <= firstTotal, "second turn reuses the first turn's tokens: " + r.err());
        assertTrue(r.out().split("> ").length >= 3, r.out());
    }

    /**
     * With --context-shift a chat outlives its context: replies shift it, and the oldest messages go when the
     * conversation would fill three quarters of it; without, the chat ends when the context is full.
     */
    @Test
    void chatGoesOnPastItsContextWithContextShift() {
        String lines = "Tell me a story.\nAnd another one.\nWhat did the dog do?\nTell me more.\nThe end?\n";
        Cli shifted = Cli.runWithInput(lines, "chat", "--temp", "0", "-n", "40", "-c", "96", "--ignore-eos", "--context-shift");
        assertEquals(0, shifted.exitCode(), shifted.err());
        Matcher turns = Pattern.compile("\\[(\\d+) new prompt tokens \\((\\d+) reused from cache\\), (\\d+) generated").matcher(shifted.err());
        int count = 0;
        while (turns.find()) {
            assertEquals(40, Integer.parseInt(turns.group(3)), shifted.err());
            count++;
        }
        assertEquals(5, count, shifted.err());
        assertTrue(shifted.err().contains("oldest messages dropped"), shifted.err());
        assertFalse(shifted.err().contains("context is full"), shifted.err());

        Cli plain = Cli.runWithInput(lines, "chat", "--temp", "0", "-n", "40", "-c", "96", "--ignore-eos");
        assertEquals(0, plain.exitCode(), plain.err());
        assertTrue(plain.err().contains("context is full; ending the chat (--context-shift drops the oldest turns instead)"), plain.err());
    }

    /** llama.cpp's -f: the prompt read from a file gives what the same text as an argument gives. */
    @Test
    void runReadsThePromptFromAFile(@TempDir Path dir) throws Exception {
        Path prompt = dir.resolve("prompt.txt");
        Files.writeString(prompt, "Once upon a time");
        Cli fromFile = Cli.run("run", "--temp", "0", "-n", "30", "-f", prompt.toString());
        assertEquals(0, fromFile.exitCode(), fromFile.err());
        assertEquals(Cli.run("run", "--temp", "0", "-n", "30", "Once upon a time").out(), fromFile.out());
        assertFalse(fromFile.out().isBlank());
        assertOneLineFailure(Cli.run("run", "-f", prompt.toString(), "Once"), "give the prompt one way");
        assertOneLineFailure(Cli.run("run", "-f", dir.resolve("none.txt").toString()), "none.txt: no such file");
    }

    /** A template file replaces the model's: the prompt is what it renders, no more; a bad one fails at once, in one line. */
    @Test
    void chatTemplateFileReplacesTheModelsTemplate(@TempDir Path dir) throws Exception {
        Path template = dir.resolve("plain.jinja");
        Files.writeString(template, "{{ bos_token }}{% for m in messages %}{{ m.content }}{% endfor %}");
        Cli r = Cli.runWithInput("Tell me a story.\n", "chat", "--temp", "0", "-n", "5", "--chat-template-file", template.toString());
        assertEquals(0, r.exitCode(), r.err());
        int words = Cli.run("tokenize", "Tell me a story.").out().strip().split(" ").length;
        assertTrue(r.err().contains("[" + (1 + words) + " new prompt tokens"), "BOS and the message alone: " + r.err());
        assertOneLineFailure(Cli.run("chat", "--chat-template-file", dir.resolve("none.jinja").toString()), "none.jinja: no such file");
        Files.writeString(template, "{% for %}");
        assertOneLineFailure(Cli.run("serve", "--port", "0", "--chat-template-file", template.toString()),
                "the chat template given does not render a user message");
    }

    @Test
    void benchComparesSpeculationWithPlainDecoding() {
        Cli r = Cli.run("bench", "-m", Fixtures.stories260K("stories260K-f32.gguf").toString(), "--spec", "ngram", "-n", "24",
                "-r", "1", "--draft-max", "4", "--warmup", "0.2");
        assertEquals(0, r.exitCode(), r.err());
        assertTrue(r.out().contains("| plain | 24 |"), r.out());
        assertTrue(r.out().contains("| ngram | 24 |"), r.out());
        // With one repetition the median of the pairs is the ratio of the means.
        Matcher speedUp = Pattern.compile("speed-up: ([0-9.]+)x \\(median of the 1 paired runs: ([0-9.]+)x\\)").matcher(r.out());
        assertTrue(speedUp.find(), r.out());
        assertEquals(speedUp.group(1), speedUp.group(2), r.out());
        Matcher m = Pattern.compile("one verify pass of 5 tokens costs ([0-9.]+)x one decode step").matcher(r.out());
        assertTrue(m.find(), r.out());
        assertTrue(Double.parseDouble(m.group(1)) > 0, r.out());
        assertTrue(Pattern.compile("verify pass cost by width: 2 tokens [0-9.]+x, 4 tokens [0-9.]+x, 5 tokens " + m.group(1) + "x")
                .matcher(r.out()).find(), r.out());
    }

    @Test
    void benchRefusesANegativeWarmUp() {
        Cli r = Cli.run("bench", "-m", Fixtures.stories260K("stories260K-f32.gguf").toString(), "--warmup", "-1");
        assertEquals(1, r.exitCode(), r.err());
        assertTrue(r.err().strip().endsWith("tern: --warmup must be a number of seconds, 0 or more"), r.err());
    }

    @Test
    void benchWithSpeculationHonoursTheContextSize() {
        Cli r = Cli.run("bench", "-m", Fixtures.stories260K("stories260K-f32.gguf").toString(), "--spec", "ngram", "-c", "64",
                "-n", "100", "-r", "1");
        assertEquals(1, r.exitCode(), r.err());
        assertTrue(r.err().strip().endsWith("tern: prompt + -n 100 exceed the context 64"), r.err());
    }

    @Test
    void missingModelIsOneLine() {
        assertOneLineFailure(Cli.run("run", "-m", "/no/such/model.gguf", "hi"), "/no/such/model.gguf: no such file");
    }

    @Test
    void corruptModelIsOneLine(@TempDir Path dir) throws Exception {
        Path bad = dir.resolve("bad.gguf");
        byte[] good = Files.readAllBytes(Fixtures.stories260K("stories260K-f32.gguf"));
        Files.write(bad, Arrays.copyOf(good, good.length / 2));
        assertOneLineFailure(Cli.run("run", "-m", bad.toString(), "hi"), "bad.gguf");
        Files.write(bad, "not a model at all".getBytes());
        assertOneLineFailure(Cli.run("info", "-m", bad.toString()), "bad.gguf");
    }

    @Test
    void contextOverflowIsOneLine() {
        Cli r = Cli.run("run", "-c", "8", "--temp", "0", "Once upon a time there was a little girl who lived in a house");
        assertOneLineFailure(r, "context");
    }

    @Test
    void generationStopsAtAFullContext() {
        Cli r = Cli.run("run", "-c", "16", "--temp", "0", "-n", "100", "--format", "json", "Once upon a time");
        assertEquals(0, r.exitCode(), r.err());
        assertTrue(r.out().contains("\"stop_reason\":\"context_full\""), r.out());
        assertTrue(r.out().contains("\"predicted_n\":11") || r.out().contains("\"predicted_n\":12"), r.out());
        assertTrue(r.out().contains("\"context_shifts\":0"), r.out());
        Cli text = Cli.run("run", "-c", "16", "--temp", "0", "-n", "100", "Once upon a time");
        assertEquals(0, text.exitCode(), text.err());
        assertTrue(text.err().matches("(?s).*tern: the context \\(16 tokens\\) is full: stopped after 1[12] of -n 100 tokens.*"), text.err());
        Cli shifted = Cli.run("run", "-c", "16", "--temp", "0", "-n", "40", "--ignore-eos", "--context-shift", "--format", "json",
                "Once upon a time");
        assertEquals(0, shifted.exitCode(), shifted.err());
        assertTrue(shifted.out().contains("\"stop_reason\":\"max_tokens\""), shifted.out());
        assertTrue(shifted.out().matches("(?s).*\"context_shifts\":([2-9]|\\d\\d).*"), shifted.out());
    }

    @Test
    void badUsageExitsTwoWithOneLine() {
        Cli r = Cli.run("run", "--no-such-flag");
        assertEquals(2, r.exitCode());
        assertEquals("tern: Unknown option: '--no-such-flag' (see tern run --help)", r.err().strip());
        Cli bad = Cli.run("bench", "--warmup", "abc");
        assertEquals(2, bad.exitCode());
        assertEquals("tern: Invalid value for option '--warmup': 'abc' is not a double (see tern bench --help)", bad.err().strip());
    }

    @Test
    void bareTernListsTheCommands() {
        Cli r = Cli.run();
        assertEquals(2, r.exitCode());
        assertEquals("", r.out());
        assertTrue(r.err().startsWith("Usage: tern"), r.err());
        for (String command : List.of("run", "chat", "serve", "bench", "quantize")) {
            assertTrue(r.err().contains("\n  " + command + " "), command + " missing from: " + r.err());
        }
    }

    /**
     * picocli passes every description line through String.format: a lone % (not %% or %n) makes it
     * print a warning on every --help and the line unformatted.
     */
    @Test
    void everyOptionDescriptionFormats() {
        List<String> bad = new ArrayList<>();
        unformattable(new CommandLine(new Main(System.in)).getCommandSpec(), bad);
        assertEquals(List.of(), bad);
    }

    /** The descriptions as written in the annotations: picocli's own accessor returns them already formatted. */
    private static void unformattable(CommandSpec spec, List<String> bad) {
        for (ArgSpec arg : spec.args()) {
            if (!(arg.userObject() instanceof AnnotatedElement e)) {
                continue;
            }
            Option option = e.getAnnotation(Option.class);
            Parameters parameters = e.getAnnotation(Parameters.class);
            String[] lines = option != null ? option.description() : parameters != null ? parameters.description() : new String[0];
            for (String line : lines) {
                try {
                    String.format(line);
                } catch (IllegalFormatException ex) {
                    bad.add(spec.qualifiedName() + " " + arg.paramLabel() + ": " + ex.getMessage());
                }
            }
        }
        for (CommandLine sub : spec.subcommands().values()) {
            unformattable(sub.getCommandSpec(), bad);
        }
    }

    @Test
    void unknownQuantTypeIsOneLine(@TempDir Path dir) {
        assertOneLineFailure(Cli.run("quantize", Fixtures.stories260K("stories260K-f32.gguf").toString(),
                dir.resolve("o.gguf").toString(), "Q3_X"), "unknown type");
    }

    @Test
    void lowBitMixWithoutImportanceIsOneLine(@TempDir Path dir) {
        assertOneLineFailure(Cli.run("quantize", Fixtures.stories15M("stories15M-distilled-f32.gguf").toString(),
                dir.resolve("o.gguf").toString(), "IQ2_XXS"), "needs an importance matrix");
    }

    @Test
    void loraAdaptersChangeTheOutputAsScaled(@TempDir Path dir) {
        String model = Fixtures.stories260K("stories260K-f32.gguf").toString();
        String plain = Cli.run("run", "-m", model, "-n", "24", "--temp", "0", "Once upon a time").out();
        Path strong = Adapters.stories260KQuery(dir.resolve("adapter.gguf"), 2f);
        Cli off = Cli.run("run", "-m", model, "-n", "24", "--temp", "0", "--lora-scaled", strong.toString(), "0", "Once upon a time");
        assertEquals(0, off.exitCode(), off.err());
        assertEquals(plain, off.out(), "scaled by 0 an adapter changes nothing");
        Cli on = Cli.run("run", "-m", model, "-n", "24", "--temp", "0", "--lora", strong.toString(), "Once upon a time");
        assertEquals(0, on.exitCode(), on.err());
        assertFalse(plain.equals(on.out()), "the adapter changes the greedy story: " + on.out());
        assertOneLineFailure(Cli.run("run", "-m", model, "-n", "2", "--lora", model, "hi"), "not a LoRA adapter");
        assertOneLineFailure(Cli.run("run", "-m", model, "-n", "2", "--lora-scaled", strong.toString(), "x", "hi"), "is not a number");
    }

    /**
     * llama.cpp's sampling flags reach the sampler: `tern run` with XTC's, Mirostat 2.0's and DRY's
     * flags, and with the chain in another order, starts with the tokens llama.cpp drew with the same settings and seed (the core's
     * reference draws); bad values and Mirostat with speculation fail in one line.
     */
    @Test
    void runTakesLlamaCppsOtherSamplingFlags() throws Exception {
        String model = Fixtures.stories260K("stories260K-f32.gguf").toString();
        String target = Fixtures.stories15M("stories15M-distilled-f32.gguf").toString();
        List<String> reference;
        try (var in = CommandsTest.class.getResourceAsStream("/dev/tern/sampling/llama-cpp-seeded-sampling.txt")) {
            reference = new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8).lines().toList();
        }
        String[][] cases = {
                {"stories15M-distilled-f32.gguf|Once upon a time|5|", "--xtc-probability", "0.5", "--xtc-threshold", "0.1"},
                {"stories260K-f32.gguf|The little dog|11|", "--mirostat", "2", "--mirostat-ent", "3", "--mirostat-lr", "0.2"},
                {"stories15M-distilled-f32.gguf|Tom and Sue|20|", "--dry-multiplier", "3", "--dry-base", "2", "--dry-allowed-length", "1",
                        "--dry-penalty-last-n", "256", "--dry-sequence-breaker", "e"},
                {"stories15M-distilled-f32.gguf|Once upon a time|21|", "--samplers", "temperature;top_k;min_p", "--min-p", "0.1"}};
        ObjectMapper json = new ObjectMapper();
        for (String[] c : cases) {
            String[] f = reference.stream().filter(l -> l.startsWith(c[0])).findFirst().orElseThrow().split("\\|");
            List<String> args = new java.util.ArrayList<>(List.of("run", "-m", f[0].startsWith("stories260K") ? model : target,
                    "-n", "40", "--format", "json",
                    "-s", f[2], "--temp", f[3]));
            args.addAll(Arrays.asList(c).subList(1, c.length));
            args.add(f[1]);
            Cli r = Cli.run(args.toArray(String[]::new));
            assertEquals(0, r.exitCode(), r.err());
            int[] got = new int[40];
            JsonNode tokens = json.readTree(r.out()).path("tokens");
            for (int i = 0; i < 40; i++) {
                got[i] = tokens.path(i).asInt(-1);
            }
            int[] want = Arrays.stream(f[f.length - 1].trim().split(" ")).limit(40).mapToInt(Integer::parseInt).toArray();
            assertArrayEquals(want, got, String.join(" ", c));
        }
        assertOneLineFailure(Cli.run("run", "-m", model, "-n", "2", "--mirostat", "3", "hi"), "mirostat must be 0 (off), 1 or 2");
        assertOneLineFailure(Cli.run("run", "-m", model, "-n", "2", "--xtc-probability", "2", "hi"), "XTC probability");
        assertOneLineFailure(Cli.run("run", "-m", model, "-n", "2", "--dry-allowed-length", "-1", "hi"), "DRY allowed length");
        assertOneLineFailure(Cli.run("run", "-m", model, "-n", "2", "--samplers", "top_k;foo", "hi"), "unknown sampler 'foo'");
        assertOneLineFailure(Cli.run("run", "-m", model, "-n", "2", "--sampling-seq", "kk", "hi"), "listed twice");
        assertOneLineFailure(Cli.run("run", "-m", model, "-n", "2", "--mirostat", "2", "--spec", "ngram", "hi"),
                "--mirostat and adaptive-p do not combine with speculative decoding");
    }

    private static void assertOneLineFailure(Cli r, String expectedFragment) {
        assertEquals(1, r.exitCode(), "exit code; stderr: " + r.err());
        String err = r.err().trim();
        assertFalse(err.contains("\n"), "one line expected: " + err);
        assertTrue(err.startsWith("tern: "), err);
        assertTrue(err.contains(expectedFragment), err);
        assertFalse(err.contains("Exception"), err);
    }

    @Test
    void runJsonObjectWritesAnObjectWhereTheModelWouldTellAStory() throws Exception {
        String model = Fixtures.stories260K("stories260K-f32.gguf").toString();
        ObjectMapper json = new ObjectMapper();
        JsonNode free = json.readTree(Cli.run("run", "-m", model, "--temp", "0", "-n", "40", "--format", "json", "Once upon a time").out());
        Cli r = Cli.run("run", "-m", model, "--temp", "0", "-n", "40", "--format", "json", "--json-object", "Once upon a time");
        assertEquals(0, r.exitCode(), r.err());
        JsonNode constrained = json.readTree(r.out());
        assertFalse(free.get("text").asText().strip().startsWith("{"), free.toString());
        assertTrue(constrained.get("text").asText().strip().startsWith("{"), constrained.toString());
        assertEquals(40, constrained.get("tokens").size(), "the story does not close its object in 40 tokens");
    }

    /** --regex: sampled from the story model, the output is a whole match, and the run ends on it. */
    @Test
    void runRegexKeepsTheWholeOutputAMatch() throws Exception {
        String model = Fixtures.stories260K("stories260K-f32.gguf").toString();
        for (String seed : new String[]{"1", "2", "3"}) {
            Cli r = Cli.run("run", "-m", model, "--seed", seed, "-n", "60", "--format", "json", "--regex", "(Lily|Tom) (ran|sat)( and (ran|sat)){0,2}\\.",
                    "Once upon a time");
            assertEquals(0, r.exitCode(), r.err());
            JsonNode v = new ObjectMapper().readTree(r.out());
            assertTrue(v.get("text").asText().matches("(Lily|Tom) (ran|sat)( and (ran|sat)){0,2}\\."), v.toString());
            assertEquals("end_of_generation", v.path("stop_reason").asText(), v.toString());
        }
    }

    /** tern embed: one JSON array per text, the library's embedding of it. */
    @Test
    void embedPrintsTheLibrarysEmbeddings() throws Exception {
        Path model = Fixtures.stories260K("stories260K-f32.gguf");
        Cli r = Cli.run("embed", "-m", model.toString(), "Once upon a time", "The cat");
        assertEquals(0, r.exitCode(), r.err());
        List<String> lines = r.out().strip().lines().toList();
        assertEquals(2, lines.size(), r.out());
        try (dev.tern.Tern tern = dev.tern.Tern.load(model)) {
            for (int i = 0; i < 2; i++) {
                float[] want = tern.embed(tern.tokenizer().encode(i == 0 ? "Once upon a time" : "The cat", true, false));
                JsonNode got = new ObjectMapper().readTree(lines.get(i));
                assertEquals(want.length, got.size());
                for (int j = 0; j < want.length; j++) {
                    assertEquals(want[j], got.get(j).floatValue(), 1e-6f, "value " + j);
                }
            }
        }
        // llama-embedding's --embd-normalize: -1 leaves the pooled vector as it is, which scaled to unit length is the default's.
        Cli raw = Cli.run("embed", "-m", model.toString(), "--embd-normalize", "-1", "Once upon a time");
        Cli unit = Cli.run("embed", "-m", model.toString(), "Once upon a time");
        JsonNode a = new ObjectMapper().readTree(raw.out()), b = new ObjectMapper().readTree(unit.out());
        double norm = 0;
        for (JsonNode x : a) {
            norm += x.asDouble() * x.asDouble();
        }
        assertTrue(Math.abs(Math.sqrt(norm) - 1) > 0.01, "not scaled");
        for (int j = 0; j < b.size(); j++) {
            assertEquals(b.get(j).asDouble(), a.get(j).asDouble() / Math.sqrt(norm), 1e-6);
        }
        assertOneLineFailure(Cli.run("embed", "-m", model.toString(), "--embd-normalize", "-3", "x"), "the embedding normalization must be -1");
    }

    /** tern rerank: the library's scores, best first; a model that does not rerank fails in one line. */
    @Test
    void rerankPrintsTheLibrarysScoresBestFirst(@TempDir Path dir) {
        Path model = dir.resolve("reranker.gguf");
        assertEquals(0, Cli.run("random-model", model.toString(), "--arch", "qwen3", "--reranker", "--dim", "64", "--ffn", "128",
                "--layers", "2", "--heads", "4", "--kv-heads", "2", "--vocab", "300", "--ctx", "1024", "--type", "F32").exitCode());
        String[] docs = {"A cat eats fish.", "The sun is a star.", "Cats like milk."};
        Cli r = Cli.run("rerank", "-m", model.toString(), "what does a cat eat", docs[0], docs[1], docs[2]);
        assertEquals(0, r.exitCode(), r.err());
        List<String> lines = r.out().strip().lines().toList();
        assertEquals(3, lines.size(), r.out());
        try (dev.tern.Tern tern = dev.tern.Tern.load(model)) {
            float[] want = tern.rerank(Arrays.stream(docs).map(d -> tern.rerankTokens("what does a cat eat", d)).toList());
            double previous = Double.POSITIVE_INFINITY;
            for (String line : lines) {
                String[] f = line.split("\t");
                int i = Integer.parseInt(f[1]);
                assertEquals(want[i], Double.parseDouble(f[0]), 1e-5, line);
                assertEquals(docs[i], f[2]);
                assertTrue(Double.parseDouble(f[0]) <= previous, "best first");
                previous = Double.parseDouble(f[0]);
            }
        }
        Cli top = Cli.run("rerank", "-m", model.toString(), "--top-n", "1", "what does a cat eat", docs[0], docs[1], docs[2]);
        // The best line again; its score to the last printed digit only as far as the JIT's state allows
        // (a compiled lane sum adds in another order than the interpreter's).
        String[] best = lines.getFirst().split("\t"), again = top.out().strip().split("\t");
        assertEquals(List.of(best[1], best[2]), List.of(again[1], again[2]), top.out());
        assertEquals(Double.parseDouble(best[0]), Double.parseDouble(again[0]), 2e-6, top.out());
        assertOneLineFailure(Cli.run("rerank", "-m", Fixtures.stories260K("stories260K-f32.gguf").toString(), "q", "d"),
                "does not rerank");
    }

    /** --grammar-file: a GBNF grammar with recursion; the output is one of its texts. */
    @Test
    void runGrammarKeepsToTheGrammar(@TempDir Path dir) throws Exception {
        Path grammar = dir.resolve("story.gbnf");
        Files.writeString(grammar, "root ::= who \" \" did \".\"  # a tiny story\nwho ::= \"Lily\" | \"Tom\" | who \" and \" who\ndid ::= \"ran\"\n");
        Cli bad = Cli.run("run", "-m", Fixtures.stories260K("stories260K-f32.gguf").toString(), "--grammar-file", grammar.toString(), "x");
        assertOneLineFailure(bad, "left recursion");
        // Bounded, so that every draw ends within the 60 tokens (a "who" that may recur can go on and on).
        Files.writeString(grammar, "root ::= who \" \" did \".\"  # a tiny story\nwho ::= name (\" and \" name)?\n"
                + "name ::= \"Lily\" | \"Tom\"\ndid ::= \"ran\" | \"sat\"\n");
        for (String seed : new String[]{"1", "2"}) {
            Cli r = Cli.run("run", "-m", Fixtures.stories260K("stories260K-f32.gguf").toString(), "--seed", seed, "-n", "60",
                    "--format", "json", "--grammar-file", grammar.toString(), "Once upon a time");
            assertEquals(0, r.exitCode(), r.err());
            String text = new ObjectMapper().readTree(r.out()).get("text").asText();
            assertTrue(text.matches("(Lily|Tom)( and (Lily|Tom))* (ran|sat)\\."), text);
        }
    }

    @Test
    void runJsonSchemaKeepsToTheSchema(@TempDir Path dir) throws Exception {
        Path schema = dir.resolve("animal.json");
        Files.writeString(schema, """
                {"type": "object", "properties": {"name": {"type": "string"}, "kind": {"enum": ["cat", "dog"]}},
                 "required": ["kind", "name"], "additionalProperties": false}""");
        // Greedy on this story model the value closes well within 200 tokens; then the run ends.
        String text = runWithSchema(schema, "--temp", "0", "-n", "200");
        JsonNode v = new ObjectMapper().readTree(text);
        assertTrue(v.get("name").isTextual(), text);
        assertTrue(List.of("cat", "dog").contains(v.get("kind").asText()), text);
        assertEquals(2, v.size(), text);
    }

    /** A pattern and a format hold in what a story model writes when held to them (sampled, several seeds). */
    @Test
    void runJsonSchemaKeepsPatternsAndFormats(@TempDir Path dir) throws Exception {
        Path schema = dir.resolve("ticket.json");
        Files.writeString(schema, """
                {"type": "object", "properties": {"code": {"type": "string", "pattern": "^[A-Z]{2}-\\\\d{3}$"},
                 "day": {"type": "string", "format": "date"}}, "required": ["code", "day"], "additionalProperties": false}""");
        for (int seed = 1; seed <= 3; seed++) {
            String text = runWithSchema(schema, "--seed", "" + seed, "-n", "120");
            JsonNode v = new ObjectMapper().readTree(text);
            assertTrue(v.get("code").asText().matches("[A-Z]{2}-\\d{3}"), text);
            assertTrue(v.get("day").asText().matches("\\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\\d|3[01])"), text);
        }
    }

    /** The text stories260K writes after "Once upon a time" held to the schema, which it must have closed. */
    private static String runWithSchema(Path schema, String... options) throws Exception {
        List<String> args = new java.util.ArrayList<>(List.of("run", "-m", Fixtures.stories260K("stories260K-f32.gguf").toString(),
                "--format", "json", "--json-schema", schema.toString()));
        args.addAll(List.of(options));
        args.add("Once upon a time");
        Cli r = Cli.run(args.toArray(String[]::new));
        assertEquals(0, r.exitCode(), r.err());
        JsonNode out = new ObjectMapper().readTree(r.out());
        String text = out.get("text").asText();
        assertEquals("end_of_generation", out.get("stop_reason").asText(), text);
        return text;
    }
}
