package dev.tern.cli;

import dev.tern.kv.KVCacheType;
import dev.tern.testing.Adapters;
import dev.tern.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** bench-serve against an in-process server, and the option parsing of serve (LoRA modules included). */
class ServeCommandsTest {

    @Test
    void benchServeInProcessReportsThroughputLatencyAndPrefixHits() {
        Cli r = Cli.run("bench-serve", "-m", Fixtures.stories260K("stories260K-f32.gguf").toString(), "-c", "256", "-t", "2",
                "--clients", "4", "--requests", "8", "--prompt-tokens", "40,56", "--output-tokens", "8,12", "--shared-prefix", "32",
                "--warmup", "0.2");
        assertEquals(0, r.exitCode(), r.err() + r.out());
        assertTrue(r.out().contains("requests: 8 ok of 8"), r.out());
        assertTrue(r.out().contains("(48.0 prompt + "), r.out());
        assertTrue(r.out().contains("output tokens/s"), r.out());
        assertTrue(r.out().contains("TTFT ms: p50"), r.out());
        // 32 shared tokens are two full blocks: every request after the first can reuse them.
        String rate = r.out().lines().filter(l -> l.startsWith("prefix cache hit rate")).findFirst().orElseThrow();
        double pct = Double.parseDouble(rate.replaceAll("[^0-9.]", ""));
        assertTrue(pct > 0 && pct <= 100.0 * 32 / 40, rate);
    }

    @Test
    void benchServeLeavesItsWarmUpsOutOfTheFigures() {
        Cli r = Cli.run("bench-serve", "-m", Fixtures.stories260K("stories260K-f32.gguf").toString(), "-c", "256", "-t", "2",
                "--clients", "4", "--requests", "8", "--prompt-tokens", "40,56", "--output-tokens", "8,12", "--shared-prefix", "32",
                "--warmup", "0", "--num-warmups", "4");
        assertEquals(0, r.exitCode(), r.err() + r.out());
        assertTrue(r.out().contains("warm-up: 4 requests, 4 ok"), r.out());
        assertTrue(r.out().contains("requests: 8 ok of 8"), r.out());
        // The warm-ups' prompts share nothing with the timed ones: the first timed request finds no block of the
        // shared prefix cached, so at most the other seven reuse their 32 tokens, of 8 × 48 prompt tokens.
        String rate = r.out().lines().filter(l -> l.startsWith("prefix cache hit rate")).findFirst().orElseThrow();
        double pct = Double.parseDouble(rate.replaceAll("[^0-9.]", ""));
        assertTrue(pct > 0 && pct <= 100.0 * 7 * 32 / (8 * 48) + 0.05, rate);
    }

    @Test
    void benchServeWithADraftModelReportsAcceptance() {
        Cli r = Cli.run("bench-serve", "-m", Fixtures.stories15M("stories15M-distilled-f32.gguf").toString(), "-t", "2",
                "--draft-model", Fixtures.stories260K("stories260K-f32.gguf").toString(), "--draft-max", "4",
                "--clients", "2", "--requests", "2", "--prompt-tokens", "8", "--output-tokens", "48", "--warmup", "0",
                "--num-warmups", "2");
        assertEquals(0, r.exitCode(), r.err() + r.out());
        assertTrue(r.out().contains("requests: 2 ok of 2"), r.out());
        String line = r.out().lines().filter(l -> l.startsWith("speculation: ")).findFirst().orElseThrow(() -> new AssertionError(r.out()));
        double pct = Double.parseDouble(line.substring("speculation: ".length(), line.indexOf('%')));
        assertTrue(pct > 0 && pct <= 100, line);
    }

    /** A llama-server command line as its users write it: the same settings under llama.cpp's names. */
    @Test
    void llamaServerCommandLinesParse() {
        CommandLine cl = new CommandLine(new ServeCommand()).setCaseInsensitiveEnumValuesAllowed(true);
        cl.parseArgs("-m", "m.gguf", "-c", "4096", "-np", "3", "-a", "story", "--jinja", "--metrics", "-cb", "-ngl", "99", "-fa", "on",
                "-ctk", "q8_0", "-ctv", "q8_0", "-md", "d.gguf", "--draft", "5", "--draft-n-min", "2", "-td", "2", "-b", "1024");
        ServeCommand serve = cl.getCommand();
        assertEquals(3, serve.server.parallel);
        assertEquals(1024, serve.server.batchTokens);
        assertEquals("story", serve.server.modelName);
        assertEquals(4096, serve.modelOptions.contextSize);
        assertEquals(KVCacheType.Q8_0, serve.modelOptions.cacheType());
        assertEquals(Path.of("d.gguf"), serve.server.speculation.draftModel);
        assertEquals(5, serve.server.speculation.draftMax);
        assertEquals(2, serve.server.speculation.draftMin);
        assertEquals(2, serve.server.speculation.draftThreads);
        ServeCommand defaults = new CommandLine(new ServeCommand()).parseArgs().commandSpec().commandLine().getCommand();
        assertEquals(KVCacheType.F16, defaults.modelOptions.cacheType());
    }

    /** A vLLM command line: the model as the argument, and vLLM's names of the same settings. */
    @Test
    void vllmServeCommandLinesParse() {
        CommandLine cl = new CommandLine(new ServeCommand()).setCaseInsensitiveEnumValuesAllowed(true);
        cl.parseArgs("m.gguf", "--max-model-len", "2048", "--served-model-name", "story", "--max-num-seqs", "4",
                "--max-num-batched-tokens", "256", "--api-key", "k");
        ServeCommand serve = cl.getCommand();
        assertEquals(Path.of("m.gguf"), serve.model);
        assertEquals(2048, serve.modelOptions.contextSize);
        assertEquals("story", serve.server.modelName);
        assertEquals(4, serve.server.parallel);
        assertEquals(256, serve.server.batchTokens);
        String model = Fixtures.stories260K("stories260K-f32.gguf").toString();
        Cli r = Cli.run("serve", model, "-m", model, "--port", "0", "--warmup", "0");
        assertEquals(1, r.exitCode(), r.err());
        assertEquals("tern: give the model once: with -m or as the argument", r.err().strip());
    }

    /** The flags that change nothing here still serve, -ngl with a one-line warning; -ctk and -ctv that differ are refused. */
    @Test
    void llamaCppFlagsServeOnTheCpu() {
        String model = Fixtures.stories260K("stories260K-f32.gguf").toString();
        Cli r = Cli.run("bench-serve", "-m", model, "-c", "256", "-t", "2", "-np", "2", "-ngl", "99", "-fa", "--jinja", "-ctk", "q8_0",
                "--clients", "2", "--requests", "2", "--prompt-tokens", "8", "--output-tokens", "4", "--warmup", "0",
                "--num-warmups", "1");
        assertEquals(0, r.exitCode(), r.err() + r.out());
        assertTrue(r.out().contains("requests: 2 ok of 2"), r.out());
        assertEquals("tern: warning: no GPU support, --n-gpu-layers ignored: running on the CPU", r.err().strip());
        r = Cli.run("serve", "-m", model, "--port", "0", "--warmup", "0", "-ctk", "q8_0", "-ctv", "f16");
        assertEquals(1, r.exitCode(), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertTrue(r.err().contains("-ctk and -ctv disagree"), r.err());
    }

    /** llama-batched-bench's table: one row per sequence count, its columns consistent with each other. */
    @Test
    void batchedBenchPrintsLlamaBatchedBenchsTable() {
        Cli r = Cli.run("batched-bench", "-m", Fixtures.stories260K("stories260K-f32.gguf").toString(), "-t", "2", "-npp", "24",
                "-ntg", "8", "-npl", "1,3", "--warmup", "0");
        assertEquals(0, r.exitCode(), r.err());
        List<String[]> rows = r.out().lines().filter(l -> l.matches("\\|\\s+\\d.*")).map(l -> l.replace(" ", "").split("\\|")).toList();
        assertEquals(2, rows.size(), r.out());
        for (String[] c : rows) {
            int pp = Integer.parseInt(c[1]), tg = Integer.parseInt(c[2]), b = Integer.parseInt(c[3]);
            assertEquals(24, pp);
            assertEquals(8, tg);
            assertEquals(b * (pp + tg), Integer.parseInt(c[4]));
            double tPp = Double.parseDouble(c[5]), sPp = Double.parseDouble(c[6]), tTg = Double.parseDouble(c[7]), sTg = Double.parseDouble(c[8]);
            // The times are printed to the millisecond: the rates agree with them within that rounding.
            assertEquals(b * pp / tPp, sPp, sPp * (0.0006 / tPp + 0.001));
            assertEquals(b * tg / tTg, sTg, sTg * (0.0006 / tTg + 0.001));
        }
        assertEquals(List.of("1", "3"), rows.stream().map(c -> c[3]).toList());
        Cli bad = Cli.run("batched-bench", "-m", Fixtures.stories260K("stories260K-f32.gguf").toString(), "-npl", "0");
        assertEquals(1, bad.exitCode());
        assertEquals("tern: -npp, -ntg and -npl take positive numbers", bad.err().strip());
    }

    @Test
    void serveRefusesAMismatchedSpeculationSetup() {
        Cli r = Cli.run("serve", "-m", Fixtures.stories260K("stories260K-f32.gguf").toString(), "--port", "0", "--spec", "draft");
        assertEquals(1, r.exitCode(), r.err());
        assertEquals("tern: --spec draft needs --draft-model FILE", r.err().strip());
    }

    @Test
    void serveRefusesAPortOutOfRange() {
        Cli r = Cli.run("serve", "-m", Fixtures.stories260K("stories260K-f32.gguf").toString(), "--port", "-5");
        assertEquals(1, r.exitCode(), r.err());
        assertEquals("tern: --port must be 0 to 65535, got -5", r.err().strip());
    }

    /** A taken address fails in one line before the warm-up (which would otherwise run its seconds first). */
    @Test
    void serveRefusesATakenPortBeforeWarmingUp() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            Cli r = Cli.run("serve", "-m", Fixtures.stories260K("stories260K-f32.gguf").toString(), "--port",
                    String.valueOf(taken.getLocalPort()), "--warmup", "30");
            assertEquals(1, r.exitCode(), r.err());
            assertEquals(1, r.err().strip().lines().count(), r.err());
            assertTrue(r.err().startsWith("tern: cannot listen on 127.0.0.1:" + taken.getLocalPort() + ": "), r.err());
        }
    }

    @Test
    void serveRefusesChatTemplateKwargsThatAreNotAJsonObject() {
        for (String bad : new String[]{"{\"enable_thinking\": fals", "[1, 2]"}) {
            Cli r = Cli.run("serve", "-m", Fixtures.stories260K("stories260K-f32.gguf").toString(), "--port", "0", "--warmup", "0",
                    "--chat-template-kwargs", bad);
            assertEquals(1, r.exitCode());
            assertEquals(1, r.err().strip().lines().count(), r.err());
            assertTrue(r.err().contains("--chat-template-kwargs"), r.err());
        }
    }

    @Test
    void serveRefusesLoraModulesThatAreNotNameEqualsFile(@TempDir Path dir) {
        String model = Fixtures.stories260K("stories260K-f32.gguf").toString();
        Cli r = Cli.run("serve", "-m", model, "--port", "0", "--warmup", "0", "--lora-modules", "justafile.gguf");
        assertEquals(1, r.exitCode(), r.err());
        assertEquals("tern: --lora-modules takes NAME=FILE, got 'justafile.gguf'", r.err().strip());
        // An adapter file that is the model itself: one line naming what is wrong, before anything listens.
        r = Cli.run("serve", "-m", model, "--port", "0", "--warmup", "0", "--lora-modules", "story=" + model);
        assertEquals(1, r.exitCode(), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertTrue(r.err().contains("not a LoRA adapter"), r.err());
        Path a = Adapters.stories260KQuery(dir.resolve("a.gguf"), 1f);
        r = Cli.run("serve", "-m", model, "--port", "0", "--warmup", "0", "--lora-modules", "x=" + a, "x=" + a);
        assertEquals(1, r.exitCode(), r.err());
        assertEquals("tern: two LoRA adapters are named 'x'", r.err().strip());
    }

    @Test
    void serveRefusesANegativeWarmUp() {
        Cli r = Cli.run("serve", "-m", Fixtures.stories260K("stories260K-f32.gguf").toString(), "--port", "0", "--warmup", "-1");
        assertEquals(1, r.exitCode(), r.err());
        assertEquals("tern: --warmup must be a number of seconds, 0 or more", r.err().strip());
    }

    @Test
    void benchServeFailsCleanlyWhenNothingListens() {
        Cli r = Cli.run("bench-serve", "--url", "http://127.0.0.1:1", "--requests", "1");
        assertEquals(1, r.exitCode(), r.err());
        assertTrue(r.err().startsWith("tern: cannot reach http://127.0.0.1:1"), r.err());
    }

    @Test
    void sizesParseWithBinaryMultiples() {
        assertEquals(512L << 20, ServeCommand.parseSize("512M"));
        assertEquals(2L << 30, ServeCommand.parseSize("2g"));
        assertEquals(1536, ServeCommand.parseSize("1.5KB"));
        assertEquals(1000, ServeCommand.parseSize("1000"));
        assertThrows(dev.tern.TernException.class, () -> ServeCommand.parseSize("lots"));
    }

    @Test
    void percentilesAreNearestRank() {
        List<Long> ms = List.of(1_000_000L, 2_000_000L, 3_000_000L, 4_000_000L);
        assertEquals(2.0, BenchServeCommand.pct(ms, 50));
        assertEquals(4.0, BenchServeCommand.pct(ms, 90));
        assertEquals(0.0, BenchServeCommand.pct(List.of(), 99));
    }
}
