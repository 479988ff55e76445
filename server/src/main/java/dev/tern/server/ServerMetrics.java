package dev.tern.server;

import dev.tern.engine.FinishReason;
import dev.tern.engine.RequestResult;
import dev.tern.engine.Scheduler;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;

import java.time.Duration;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** The server's Prometheus metrics (GET /metrics), through Micrometer. */
final class ServerMetrics {
    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final Map<FinishReason, Counter> finished = new EnumMap<>(FinishReason.class);
    private final Counter rejected;
    private final Counter disconnected;
    private final Counter promptTokens;
    private final Counter cachedTokens;
    private final Counter generatedTokens;
    private final Timer ttft;
    private final Timer interToken;

    ServerMetrics(Scheduler scheduler) {
        for (FinishReason r : FinishReason.values()) {
            finished.put(r, Counter.builder("tern.requests").description("Requests finished, by finish reason")
                    .tag("finish_reason", r.name().toLowerCase()).register(registry));
        }
        rejected = Counter.builder("tern.requests.rejected").description("Requests refused because the queue was full").register(registry);
        disconnected = Counter.builder("tern.requests.disconnected").description("Streams whose client went away").register(registry);
        promptTokens = Counter.builder("tern.prompt.tokens").description("Prompt tokens of finished requests").register(registry);
        cachedTokens = Counter.builder("tern.prompt.cached.tokens").description("Prompt tokens served by the prefix cache").register(registry);
        generatedTokens = Counter.builder("tern.generated.tokens").description("Tokens generated").register(registry);
        ttft = Timer.builder("tern.time.to.first.token").description("From request arrival to its first output")
                .publishPercentileHistogram().minimumExpectedValue(Duration.ofMillis(1)).maximumExpectedValue(Duration.ofMinutes(5))
                .register(registry);
        interToken = Timer.builder("tern.inter.token.latency").description("Between consecutive output tokens of a stream")
                .publishPercentileHistogram().minimumExpectedValue(Duration.ofMillis(1)).maximumExpectedValue(Duration.ofSeconds(30))
                .register(registry);
        Gauge.builder("tern.queue.depth", scheduler, s -> s.stats().waiting()).description("Requests waiting").register(registry);
        Gauge.builder("tern.requests.running", scheduler, s -> s.stats().running()).description("Requests generating").register(registry);
        Gauge.builder("tern.kv.blocks.used", scheduler, s -> s.stats().kvBlocksUsed()).description("KV cache blocks in use").register(registry);
        Gauge.builder("tern.kv.blocks.free", scheduler, s -> s.stats().kvBlocksLimit() - s.stats().kvBlocksUsed())
                .description("KV cache blocks free").register(registry);
        Gauge.builder("tern.prefix.cache.hit.rate", scheduler, s -> s.stats().prefixHitRate())
                .description("Fraction of prompt tokens found in the prefix cache").register(registry);
        Gauge.builder("tern.preemptions", scheduler, s -> s.stats().preemptions()).description("Requests preempted").register(registry);
        Gauge.builder("tern.context.shifts", scheduler, s -> s.stats().contextShifts())
                .description("Full contexts a request made room in (--context-shift)").register(registry);
        FunctionCounter.builder("tern.speculative.proposals", scheduler, s -> s.stats().proposalPasses())
                .description("Proposals verified (one per request and step); its rate is proposals per second").register(registry);
        FunctionCounter.builder("tern.speculative.drafted.tokens", scheduler, s -> s.stats().drafted())
                .description("Speculative tokens verified").register(registry);
        FunctionCounter.builder("tern.speculative.accepted.tokens", scheduler, s -> s.stats().draftAccepted())
                .description("Speculative tokens the model agreed with").register(registry);
        Gauge.builder("tern.speculative.acceptance.rate", scheduler, s -> s.stats().acceptanceRate())
                .description("Fraction of speculative tokens accepted").register(registry);
        Gauge.builder("tern.speculative.mean.accepted.length", scheduler, s -> s.stats().meanAcceptedLength())
                .description("Speculative tokens accepted per proposal").register(registry);
    }

    void firstToken(long nanos) {
        ttft.record(nanos, TimeUnit.NANOSECONDS);
    }

    /** {@code count} tokens arrived together, {@code nanos} apart on average. */
    void interToken(long nanos, int count) {
        for (int i = 0; i < count; i++) {
            interToken.record(nanos, TimeUnit.NANOSECONDS);
        }
    }

    void finished(RequestResult r) {
        finished.get(r.reason()).increment();
        promptTokens.increment(r.promptTokens());
        cachedTokens.increment(r.cachedTokens());
        generatedTokens.increment(r.completionTokens());
    }

    void rejected() {
        rejected.increment();
    }

    void disconnected() {
        disconnected.increment();
    }

    String scrape() {
        return registry.scrape();
    }
}
