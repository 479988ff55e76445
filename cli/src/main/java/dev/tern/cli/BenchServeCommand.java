package dev.tern.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tern.Tern;
import dev.tern.TernException;
import dev.tern.server.ServerConfig;
import dev.tern.server.TernServer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.net.HttpURLConnection;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * {@code tern bench-serve}: N concurrent streaming clients against an OpenAI-compatible server
 * (a running one at --url, or one started in-process on a free loopback port). Prompts are
 * token-id arrays of the chosen lengths (optionally sharing a common prefix), so their lengths
 * are exact. Reports throughput, TTFT and inter-token latency percentiles and the prefix-cache
 * hit rate (from the usage the server returns), of the timed requests only: --num-warmups requests
 * before them are left out.
 */
@Command(name = "bench-serve", description = "Load-test an OpenAI-compatible server with concurrent streaming clients.")
final class BenchServeCommand implements Callable<Integer> {
    /** Created on first use: Jackson's start-up costs every other command a third of a second otherwise. */
    private static final class Json {
        static final ObjectMapper MAPPER = new ObjectMapper();
    }
    /** Ordinary words: their tokens make prompts any vocabulary can represent. */
    private static final String WORDS = "the a one day little girl boy dog cat big small happy sad ran saw went played"
            + " with her his they said mom dad friend tree park ball house red blue sun was and to in on of it";

    @Spec
    CommandSpec spec;

    @Mixin
    ModelOptions modelOptions;

    @Mixin
    ServeCommand.ServerOptions server;

    @Option(names = "--url", description = "Server to test, e.g. http://127.0.0.1:8080 (default: start one in-process from -m)")
    String url;

    @Option(names = "--clients", description = "Concurrent clients (default: ${DEFAULT-VALUE})")
    int clients = 8;

    @Option(names = "--requests", description = "Requests in all (default: ${DEFAULT-VALUE})")
    int requests = 32;

    @Option(names = "--prompt-tokens", split = ",", description = "Prompt lengths, used in turn (default: ${DEFAULT-VALUE})")
    List<Integer> promptTokens = List.of(128);

    @Option(names = "--output-tokens", split = ",", description = "max_tokens values, used in turn (default: ${DEFAULT-VALUE})")
    List<Integer> outputTokens = List.of(64);

    @Option(names = "--shared-prefix", description = "Leading prompt tokens every request shares (default: ${DEFAULT-VALUE})")
    int sharedPrefix;

    @Option(names = "--seed", description = "Seed of the prompts (default: ${DEFAULT-VALUE})")
    long seed = 1;

    @Option(names = {"--num-warmups", "--warmup-requests"}, description = "Requests the clients send first, with prompts of their"
            + " own and left out of every figure, so that the timed ones find the client's and the server's code compiled:"
            + " on a small machine the JIT otherwise takes a share of the cores the server runs on (vLLM's"
            + " benchmark_serving option; default: ${DEFAULT-VALUE})")
    int warmups;

    /** What one streamed request measured. */
    private record Sample(int status, long ttftNanos, List<Long> gapsNanos, int promptTokens, int completionTokens, int cachedTokens,
                          String error) {
    }

    @Override
    public Integer call() throws Exception {
        if (clients < 1 || requests < 1 || sharedPrefix < 0 || promptTokens.stream().anyMatch(n -> n < 1)
                || outputTokens.stream().anyMatch(n -> n < 1)) {
            throw new TernException("--clients, --requests, --prompt-tokens and --output-tokens must be positive");
        }
        if (warmups < 0) {
            throw new TernException("--num-warmups must be 0 or more, got " + warmups);
        }
        if (url != null) {
            return run(url.replaceAll("/+$", ""), server.modelName);
        }
        server.port = 0;
        try (Tern tern = server.load(modelOptions)) {
            ServerConfig cfg = server.config(tern, modelOptions.resolvedModel());
            try (TernServer s = server.start(tern, cfg, spec.commandLine().getErr())) {
                return run(s.url(), cfg.modelName());
            } finally {
                server.closeSpeculation();
            }
        }
    }

    private int run(String base, String model) throws Exception {
        List<int[]> prompts, warmUpPrompts;
        try {
            if (model == null) {
                model = get(base + "/v1/models").get("data").get(0).get("id").asText();
            }
            int[] vocab = vocabulary(base);
            // The warm-ups' prompts share nothing with the timed ones, so that they seed no prefix the timed ones would find cached.
            warmUpPrompts = prompts(vocab, warmups, seed ^ 0x5DEECE66DL, 0);
            prompts = prompts(vocab, requests, seed, sharedPrefix);
        } catch (IOException e) {
            throw new TernException("cannot reach " + base + ": " + e);
        }
        PrintWriter out = spec.commandLine().getOut();
        String m = model;
        if (warmups > 0) {
            List<Sample> warm = send(base, m, warmUpPrompts);
            out.printf(Locale.ROOT, "warm-up: %d requests, %d ok (left out of the figures below)%n", warm.size(),
                    warm.stream().filter(s -> s.status == 200).count());
        } else {
            PrintWriter err = spec.commandLine().getErr();
            err.println("tern: no warm-up requests: the JIT of a fresh client and server runs during the timed ones"
                    + " (--num-warmups N sends N first)");
            err.flush();
        }
        double[] before = speculationCounters(base);
        long t0 = System.nanoTime();
        List<Sample> samples = send(base, m, prompts);
        double wall = (System.nanoTime() - t0) / 1e9;
        report(out, samples, wall);
        speculation(out, before, speculationCounters(base), wall);
        out.flush();
        return samples.stream().allMatch(s -> s.status == 200) ? 0 : 1;
    }

    /** Streams every prompt, {@code clients} at a time, each with its turn of the output lengths. */
    private List<Sample> send(String base, String model, List<int[]> all) {
        List<Sample> samples = Collections.synchronizedList(new ArrayList<>());
        AtomicInteger next = new AtomicInteger();
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            for (int c = 0; c < clients; c++) {
                pool.submit(() -> {
                    for (int i; (i = next.getAndIncrement()) < all.size(); ) {
                        samples.add(stream(base, model, all.get(i), outputTokens.get(i % outputTokens.size())));
                    }
                    return null;
                });
            }
        }
        return samples;
    }

    /** Distinct token ids of ordinary words in the server's vocabulary. */
    private int[] vocabulary(String base) throws IOException {
        ObjectNode body = Json.MAPPER.createObjectNode().put("content", WORDS);
        JsonNode r = post(base + "/tokenize", body);
        List<Integer> found = new ArrayList<>();
        r.path("tokens").forEach(t -> found.add(t.asInt()));
        int[] ids = found.stream().mapToInt(Integer::intValue).distinct().toArray();
        if (ids.length == 0) {
            throw new TernException(base + "/tokenize returned no tokens");
        }
        return ids;
    }

    /** {@code count} prompts of the configured lengths from {@code seed}'s words, the first {@code shared} tokens common to all. */
    private List<int[]> prompts(int[] vocab, int count, long seed, int shared) {
        SplittableRandom rng = new SplittableRandom(seed);
        int[] prefix = rng.ints(shared, 0, vocab.length).map(i -> vocab[i]).toArray();
        List<int[]> out = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            int len = Math.max(promptTokens.get(i % promptTokens.size()), 1);
            int[] p = new int[len];
            for (int j = 0; j < len; j++) {
                p[j] = j < prefix.length ? prefix[j] : vocab[rng.nextInt(vocab.length)];
            }
            out.add(p);
        }
        return out;
    }

    private Sample stream(String base, String model, int[] prompt, int maxTokens) {
        ObjectNode body = Json.MAPPER.createObjectNode().put("model", model).put("max_tokens", maxTokens).put("stream", true)
                .put("temperature", 0);
        ArrayNode p = body.putArray("prompt");
        for (int t : prompt) {
            p.add(t);
        }
        body.putObject("stream_options").put("include_usage", true);
        long start = System.nanoTime();
        try {
            HttpURLConnection c = open(base + "/v1/completions", body);
            int status = c.getResponseCode();
            if (status != 200) {
                return new Sample(status, 0, List.of(), 0, 0, 0, errorBody(c));
            }
            long first = 0, last = 0;
            List<Long> gaps = new ArrayList<>();
            int[] usage = new int[3];
            try (BufferedReader in = new BufferedReader(new InputStreamReader(c.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = in.readLine()) != null; ) {
                    long now = System.nanoTime();
                    if (!line.startsWith("data: ") || line.equals("data: [DONE]")) {
                        continue;
                    }
                    JsonNode chunk = Json.MAPPER.readTree(line.substring(6));
                    JsonNode u = chunk.get("usage");
                    if (u != null && !u.isNull()) {
                        usage[0] = u.path("prompt_tokens").asInt();
                        usage[1] = u.path("completion_tokens").asInt();
                        usage[2] = u.path("prompt_tokens_details").path("cached_tokens").asInt();
                    }
                    JsonNode choices = chunk.path("choices");
                    if (choices.isEmpty() || choices.get(0).path("text").asText().isEmpty()) {
                        continue;
                    }
                    if (first == 0) {
                        first = now;
                    } else {
                        gaps.add(now - last);
                    }
                    last = now;
                }
            }
            return new Sample(200, first == 0 ? 0 : first - start, gaps, usage[0], usage[1], usage[2], null);
        } catch (IOException e) {
            return new Sample(-1, 0, List.of(), 0, 0, 0, e.toString());
        }
    }

    private void report(PrintWriter out, List<Sample> samples, double wall) {
        Map<Integer, Integer> statuses = new TreeMap<>();
        List<Long> ttft = new ArrayList<>();
        List<Long> gaps = new ArrayList<>();
        long prompt = 0, completion = 0, cached = 0;
        int ok = 0;
        String firstError = null;
        for (Sample s : samples) {
            statuses.merge(s.status, 1, Integer::sum);
            if (s.status != 200) {
                firstError = firstError == null ? s.error : firstError;
                continue;
            }
            ok++;
            if (s.ttftNanos > 0) {
                ttft.add(s.ttftNanos);
            }
            gaps.addAll(s.gapsNanos);
            prompt += s.promptTokens;
            completion += s.completionTokens;
            cached += s.cachedTokens;
        }
        out.printf(Locale.ROOT, "requests: %d ok of %d (statuses %s), %d clients, %.2f s%n", ok, samples.size(), statuses, clients, wall);
        out.printf(Locale.ROOT, "throughput: %.2f requests/s, %.1f output tokens/s (%.1f prompt + %.1f output tokens per request)%n",
                ok / wall, completion / wall, ok == 0 ? 0.0 : (double) prompt / ok, ok == 0 ? 0.0 : (double) completion / ok);
        out.printf(Locale.ROOT, "TTFT ms: p50 %.1f  p90 %.1f  p99 %.1f%n", pct(ttft, 50), pct(ttft, 90), pct(ttft, 99));
        out.printf(Locale.ROOT, "inter-token ms: p50 %.1f  p90 %.1f  p99 %.1f%n", pct(gaps, 50), pct(gaps, 90), pct(gaps, 99));
        out.printf(Locale.ROOT, "prefix cache hit rate: %.1f%% of prompt tokens%n", prompt == 0 ? 0.0 : 100.0 * cached / prompt);
        if (firstError != null) {
            out.println("first error: " + firstError);
        }
    }

    /** The server's speculation counters since it started (drafted, accepted, proposals), or null without a /metrics to read. */
    private double[] speculationCounters(String base) {
        String metrics;
        try {
            metrics = getText(base + "/metrics");
        } catch (IOException | TernException e) {
            return null;
        }
        return new double[]{sample(metrics, "tern_speculative_drafted_tokens_total"),
                sample(metrics, "tern_speculative_accepted_tokens_total"), sample(metrics, "tern_speculative_proposals_total")};
    }

    /** What the server's speculation did between two readings of its counters, when it speculates. */
    private static void speculation(PrintWriter out, double[] before, double[] after, double wall) {
        if (before == null || after == null) {
            return;
        }
        double drafted = after[0] - before[0], accepted = after[1] - before[1], proposals = after[2] - before[2];
        if (drafted > 0) {
            out.printf(Locale.ROOT, "speculation: %.1f%% of %.0f drafted tokens accepted, %.2f accepted per proposal, %.1f proposals/s%n",
                    100 * accepted / drafted, drafted, accepted / proposals, proposals / wall);
        }
    }

    /** An untagged sample of a Prometheus scrape, or 0 when it is not there. */
    private static double sample(String scrape, String name) {
        return scrape.lines().filter(l -> l.startsWith(name + " "))
                .mapToDouble(l -> Double.parseDouble(l.substring(name.length() + 1).trim())).findFirst().orElse(0);
    }

    /** Nearest-rank percentile in milliseconds (0 when there are no values). */
    static double pct(List<Long> nanos, int p) {
        if (nanos.isEmpty()) {
            return 0;
        }
        List<Long> sorted = new ArrayList<>(nanos);
        Collections.sort(sorted);
        int rank = (int) Math.ceil(p / 100.0 * sorted.size());
        return sorted.get(Math.max(0, rank - 1)) / 1e6;
    }

    /**
     * A request to uri, a POST of {@code body} when there is one, else a GET. A blocking connection whose
     * stream the calling client reads itself: the JDK's asynchronous HttpClient handed every streamed line
     * between threads and took about twice the CPU, which on a small machine the server lacks. Its body
     * read to the end and closed, the connection is kept alive for the client's next request.
     */
    private HttpURLConnection open(String uri, ObjectNode body) throws IOException {
        HttpURLConnection c = (HttpURLConnection) URI.create(uri).toURL().openConnection();
        if (server.apiKey != null) {
            c.setRequestProperty("Authorization", "Bearer " + server.apiKey);
        }
        if (body != null) {
            c.setRequestMethod("POST");
            c.setDoOutput(true);
            c.setRequestProperty("Content-Type", "application/json");
            try (OutputStream o = c.getOutputStream()) {
                o.write(Json.MAPPER.writeValueAsBytes(body));
            }
        }
        return c;
    }

    private static String errorBody(HttpURLConnection c) throws IOException {
        try (InputStream e = c.getErrorStream()) {
            return e == null ? "" : new String(e.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    private JsonNode post(String uri, ObjectNode body) throws IOException {
        return Json.MAPPER.readTree(text(uri, body));
    }

    private JsonNode get(String uri) throws IOException {
        return Json.MAPPER.readTree(getText(uri));
    }

    private String getText(String uri) throws IOException {
        return text(uri, null);
    }

    /** The body of a 200 answer to uri (a POST of body when not null); a TernException naming the status otherwise. */
    private String text(String uri, ObjectNode body) throws IOException {
        HttpURLConnection c = open(uri, body);
        int status = c.getResponseCode();
        if (status != 200) {
            throw new TernException(uri + ": HTTP " + status + ": " + errorBody(c));
        }
        try (InputStream in = c.getInputStream()) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }
}
