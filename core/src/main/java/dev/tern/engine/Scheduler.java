package dev.tern.engine;

import dev.tern.TernException;
import dev.tern.kv.BlockPool;
import dev.tern.kv.PrefixCache;
import dev.tern.model.Batch;
import dev.tern.sampling.GrammarConstraint;
import dev.tern.sampling.Sampler;
import dev.tern.spec.DraftBudget;
import dev.tern.spec.PassCosts;
import dev.tern.spec.Proposal;
import dev.tern.spec.Speculation;
import dev.tern.spec.SpeculativeSampling;
import dev.tern.tokenizer.Tokenizer;

import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Continuous batching over one {@link Engine}, as vLLM schedules: a single loop with no separate
 * prefill and decode phases. Each request has tokens already in its KV cache and tokens still
 * to compute; every step takes the next token of each running request, then chunks of waiting
 * prompts (first come, first served) up to a token budget, runs one forward pass over all of
 * them and samples the requests whose tokens are all computed. When the KV cache runs out, idle
 * prefix-cache blocks are evicted first, then the newest running request is preempted: its
 * blocks are freed and its tokens recomputed when it runs again. Output is streamed to each
 * request's {@link RequestListener}.
 *
 * <p>With a {@link Speculation}, a running request whose prompt is done has its proposer guess up
 * to k next tokens; they ride in the same forward pass as everyone else's tokens, the longest
 * prefix the target agrees with is kept plus one token of its own, and the rejected positions are
 * cut from the request's cache. Greedy output is unchanged; sampled output keeps the target's
 * distribution by the speculative sampling rule. Whether a step guesses at all is decided for the
 * whole step ({@link DraftBudget}) from the measured times of passes by width: with many requests
 * decoding together the pass is already bound by its arithmetic and guesses stop paying.
 *
 * <p>Each running request holds one of llama-server's slots ({@link Slots}), which remember the tokens
 * of the last request that ended in them for {@link #saveSlot}, {@link #restoreSlot} and {@link #eraseSlot}.
 *
 * <p>{@link #submit} and {@link RequestHandle#cancel} may be called from any thread; the loop
 * runs on its own thread once {@link #start started}.
 */
public final class Scheduler implements AutoCloseable {
    /** Passes timed (of two widths at least) before their costs choose the guesses. */
    private static final int PASS_COSTS_AFTER = 8;
    /** Passes after which a width not seen again no longer counts: a few seconds of steps. */
    private static final int PASS_COSTS_STALE = 512;
    private static final int EXPLORE_EVERY = 64;
    private final Engine engine;
    private final Tokenizer tokenizer;
    private final int contextSize;
    private final SchedulerConfig config;
    private final int blockLimit;
    private final PrefixCache prefixCache;
    private final int vocab;
    /** The vocabulary's end-of-generation tokens, which a request's min_tokens bans. */
    private final int[] endOfGeneration;
    private final Speculation speculation;

    private final ConcurrentLinkedQueue<ScheduledRequest> incoming = new ConcurrentLinkedQueue<>();
    private final AtomicInteger notStarted = new AtomicInteger();
    private final AtomicLong orders = new AtomicLong();
    private final ArrayDeque<ScheduledRequest> waiting = new ArrayDeque<>();
    /** Oldest first. */
    private final List<ScheduledRequest> running = new ArrayList<>();
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition work = lock.newCondition();
    private volatile boolean closed;
    private volatile boolean pendingCancel;
    private Thread thread;
    private int plannedBlocks;
    private volatile SchedulerStats stats;
    private volatile List<RunningRequest> runningNow = List.of();
    private long preemptions;
    private long shifts;
    private final Slots slots;
    private long drafted, draftAccepted, proposalPasses;
    /** The forward passes' times by width, once speculation is on: how much a step's guesses cost. */
    private final PassCosts passCosts;
    /** The time to propose one token, ns (0 until measured). */
    private double proposeNanos;
    /** Steps whose guesses were chosen: every {@link #EXPLORE_EVERY}th lets each request its own length, so wide passes are timed again. */
    private long draftSteps;
    /** The vocabulary's bytes for JSON-constrained requests, read at the first such request. */
    private GrammarConstraint.Vocabulary constraintVocabulary;

    /**
     * @param contextSize positions each request may use (prompt plus generated tokens)
     */
    public Scheduler(Engine engine, Tokenizer tokenizer, int contextSize, SchedulerConfig config) {
        this(engine, tokenizer, contextSize, config, null);
    }

    /**
     * @param speculation how running requests propose tokens to verify, or null for none; the
     *                    scheduler uses it from its own thread only and does not close it
     */
    public Scheduler(Engine engine, Tokenizer tokenizer, int contextSize, SchedulerConfig config, Speculation speculation) {
        this.engine = engine;
        this.speculation = speculation;
        this.tokenizer = tokenizer;
        this.contextSize = contextSize;
        this.config = config;
        BlockPool pool = engine.cache();
        this.blockLimit = config.maxKvBlocks() == 0 ? pool.maxBlocks() : Math.min(config.maxKvBlocks(), pool.maxBlocks());
        this.prefixCache = config.prefixCaching() ? new PrefixCache(pool) : null;
        this.vocab = engine.model().config().vocab();
        this.endOfGeneration = tokenizer.endOfGenerationIds();
        this.slots = new Slots(engine, pool, prefixCache, config.maxRunning());
        this.passCosts = speculation == null ? null : new PassCosts(config.tokenBudget(), PASS_COSTS_AFTER, PASS_COSTS_STALE);
        this.stats = snapshot();
    }

    /**
     * llama-server's slot save: writes to {@code file} the tokens of the last request that ended in
     * {@code slot}, with the keys and values the prefix cache still holds for them (whole blocks of
     * 16 positions: the rest of the last block went with the request), in {@link SessionFile}'s form.
     * A busy slot is waited for, as llama-server defers the task. A TernException when the slot holds
     * nothing.
     */
    public SlotResult saveSlot(int slot, Path file, byte[] fingerprint) {
        synchronized (engine) {
            awaitIdle(slot);
            return slots.save(slot, file, fingerprint);
        }
    }

    /**
     * llama-server's slot restore: puts the whole blocks of {@code file} (made by {@link #saveSlot}
     * or {@code tern run --prompt-cache}) into the prefix cache, so that requests starting with its
     * tokens find them there (requests of the base model: a LoRA adapter's blocks are kept apart),
     * and makes them the slot's. As many as the cache has room for after evicting idle blocks.
     */
    public SlotResult restoreSlot(int slot, Path file, byte[] fingerprint) {
        synchronized (engine) {
            awaitIdle(slot);
            return slots.restore(slot, file, fingerprint, this::makeRoom);
        }
    }

    /** llama-server's slot erase: the slot forgets its tokens, and the prefix cache their idle blocks. */
    public SlotResult eraseSlot(int slot) {
        synchronized (engine) {
            awaitIdle(slot);
            return slots.erase(slot);
        }
    }

    private void awaitIdle(int slot) {
        slots.awaitIdle(slot, s -> running.stream().anyMatch(r -> r.slot == s), () -> closed);
    }

    /** Starts the scheduling loop on a new platform thread. */
    public synchronized void start() {
        if (thread != null) {
            throw new IllegalStateException("already started");
        }
        thread = Thread.ofPlatform().name("tern-scheduler").daemon(true).start(this::loop);
    }

    public int contextSize() {
        return contextSize;
    }

    public SchedulerConfig config() {
        return config;
    }

    /** KV blocks this scheduler may use. */
    public int blockLimit() {
        return blockLimit;
    }

    /**
     * Queues a request. Throws {@link QueueFullException} when {@code maxWaiting} requests are
     * already waiting, and a TernException when the prompt cannot fit the context or the cache.
     */
    public RequestHandle submit(Request request, RequestListener listener) {
        int n = request.prompt().length;
        if (n > contextSize) {
            throw new TernException("prompt of " + n + " tokens does not fit the context of " + contextSize + " positions");
        }
        if (BlockPool.blocksFor(n) > blockLimit) {
            throw new TernException("prompt of " + n + " tokens needs more KV cache than the " + blockLimit + " blocks available");
        }
        if (closed) {
            throw new TernException("the scheduler is shut down");
        }
        if (notStarted.incrementAndGet() > config.maxWaiting()) {
            notStarted.decrementAndGet();
            throw new QueueFullException("too many requests waiting (" + config.maxWaiting() + "); try again later");
        }
        for (int t : request.stopTokens()) {
            if (t >= vocab) {
                throw new TernException("stop token " + t + " is outside the vocabulary of " + vocab);
            }
        }
        GrammarConstraint constraint = request.format().isText() ? null : new GrammarConstraint(constraintVocabulary(), request.format().grammar());
        Sampler sampler = new Sampler(request.sampling(), tokenizer, constraint);
        for (int t : request.prompt()) {
            sampler.accept(t);
        }
        ScheduledRequest r = new ScheduledRequest(orders.getAndIncrement(), request, listener, sampler, tokenizer, this);
        incoming.add(r);
        wake();
        return r;
    }

    /** Whether {@link #close} has been called: submissions are refused. */
    public boolean isShutdown() {
        return closed;
    }

    /** Counters as of the end of the last step. */
    public SchedulerStats stats() {
        return stats;
    }

    /** The running requests as of the end of the last step, oldest first. */
    public List<RunningRequest> running() {
        return runningNow;
    }

    void wake() {
        pendingCancel = true;
        lock.lock();
        try {
            work.signalAll();
        } finally {
            lock.unlock();
        }
    }

    private synchronized GrammarConstraint.Vocabulary constraintVocabulary() {
        if (constraintVocabulary == null) {
            constraintVocabulary = new GrammarConstraint.Vocabulary(tokenizer);
        }
        return constraintVocabulary;
    }

    private void loop() {
        while (!closed) {
            pendingCancel = false;
            try {
                if (step()) {
                    continue;
                }
            } catch (RuntimeException e) {
                failAll(e);
                continue;
            }
            lock.lock();
            try {
                if (!closed && incoming.isEmpty() && !pendingCancel) {
                    work.await(100, TimeUnit.MILLISECONDS);
                }
            } catch (InterruptedException e) {
                return;
            } finally {
                lock.unlock();
            }
        }
    }

    /**
     * Runs one step: admits, plans and runs one forward pass, samples. Returns false when there
     * was nothing to do. Called by the loop; tests may call it directly on an unstarted scheduler.
     */
    boolean step() {
        synchronized (engine) {
            try {
                return runStep();
            } finally {
                stats = snapshot();
            }
        }
    }

    private boolean runStep() {
        for (ScheduledRequest r; (r = incoming.poll()) != null; ) {
            waiting.addLast(r);
        }
        reapCancelled();
        if (waiting.isEmpty() && running.isEmpty()) {
            return false;
        }
        plannedBlocks = 0;
        if (speculation != null) {
            planDrafts();
        }
        Batch batch = new Batch();
        List<ScheduledRequest> planned = new ArrayList<>();
        List<ScheduledRequest> sampling = new ArrayList<>();
        int budget = config.tokenBudget();
        for (int i = 0; i < running.size() && budget > 0; i++) {
            ScheduledRequest r = running.get(i);
            // A prompt chunk leaves one token of budget for each later running request: no decoder starves.
            int room = budget - (running.size() - 1 - i);
            int take = Math.min(r.length - r.computed(), room);
            r.proposal = take == 1 && r.length - r.computed() == 1 ? propose(r, room - 1) : null;
            if (r.proposal != null) {
                take += r.proposal.size();
            }
            boolean fits = r.proposal != null || reserve(blocksNeeded(r, take));
            while (!fits && running.getLast() != r) {
                preempt(running.removeLast());
                fits = reserve(blocksNeeded(r, take));
            }
            if (!fits) {
                running.remove(i);
                if (planned.isEmpty()) {
                    // Alone and still out of blocks: it has reached the cache's capacity.
                    if (r.generated > 0) {
                        finish(r, FinishReason.LENGTH, null);
                    } else {
                        finish(r, FinishReason.ERROR, "the KV cache is too small for this request");
                    }
                } else {
                    preempt(r);
                }
                break;
            }
            budget -= plan(batch, r, take, planned, sampling);
        }
        while (budget > 0 && !waiting.isEmpty() && running.size() + slots.heldIdle(running) < config.maxRunning()) {
            ScheduledRequest r = waiting.peekFirst();
            if (r.table == null) {
                r.table = engine.newSequence(contextSize);
                attachCachedPrefix(r);
            }
            int take = Math.min(r.length - r.computed(), budget);
            if (!reserve(blocksNeeded(r, take))) {
                r.table.close();
                r.table = null;
                r.registered = 0;
                if (running.isEmpty() && planned.isEmpty()) {
                    waiting.removeFirst();
                    finish(r, FinishReason.ERROR, "the KV cache is too small for this request");
                    continue;
                }
                break;
            }
            waiting.removeFirst();
            r.proposal = null;
            if (r.cachedTokens < 0) {
                r.cachedTokens = r.computed();
                notStarted.decrementAndGet();
            }
            insertRunning(r);
            budget -= plan(batch, r, take, planned, sampling);
        }
        if (batch.size() == 0) {
            return false;
        }
        float[] logits;
        try {
            long t0 = System.nanoTime();
            logits = engine.forward(batch);
            if (passCosts != null) {
                passCosts.observe(batch.size(), System.nanoTime() - t0);
            }
        } catch (RuntimeException e) {
            for (ScheduledRequest r : planned) {
                running.remove(r);
                finish(r, FinishReason.ERROR, e.getMessage() == null ? e.toString() : e.getMessage());
            }
            return true;
        }
        for (ScheduledRequest r : planned) {
            if (r.promptLogprobs != null) {
                score(r, logits);
            }
        }
        int[][] decided = new int[sampling.size()][];
        TokenLogprob[][] logprobs = new TokenLogprob[sampling.size()][];
        int[] firstRow = new int[sampling.size()];
        for (int k = 0; k < sampling.size(); k++) {
            ScheduledRequest r = sampling.get(k);
            firstRow[k] = r.firstRow + r.scoreRows;
            if (r.proposal != null) {
                // Decided and cut back before the prefix cache sees the request's blocks.
                logprobs[k] = r.request.logprobs() >= 0 ? new TokenLogprob[r.proposal.size() + 1] : null;
                decided[k] = verify(r, logits, firstRow[k], logprobs[k]);
            }
        }
        for (ScheduledRequest r : planned) {
            registerFullBlocks(r);
        }
        for (int k = 0; k < sampling.size(); k++) {
            ScheduledRequest r = sampling.get(k);
            if (r.request.maxTokens() == 0) {
                running.remove(r);
                finish(r, FinishReason.LENGTH, null);
                continue;
            }
            if (decided[k] == null) {
                sample(r, Arrays.copyOfRange(logits, firstRow[k] * vocab, (firstRow[k] + 1) * vocab));
                continue;
            }
            for (int j = 0; j < decided[k].length; j++) {
                if (!accept(r, decided[k][j], logprobs[k] == null ? null : logprobs[k][j])) {
                    break;
                }
            }
        }
        return true;
    }

    /**
     * Sets each running request's {@link ScheduledRequest#draftBudget} for this step: the tokens its
     * own length rule asks for, or, where several requests decode together, none when guessing does not
     * pay for the step as a whole ({@link DraftBudget}, once passes of several widths have been timed;
     * not in every {@link #EXPLORE_EVERY}th step, so that wide passes are timed again).
     */
    private void planDrafts() {
        List<ScheduledRequest> decoding = new ArrayList<>();
        int width = 0, caps = 0, yield = 0;
        for (ScheduledRequest r : running) {
            int pending = r.length - r.computed();
            width += pending;
            yield += pending == 1 ? 1 : 0;
            r.draftBudget = 0;
            if (pending == 1 && r.request.sampling().allowsSpeculation()) {
                if (r.lengths == null) {
                    r.lengths = speculation.lengths();
                }
                r.draftBudget = r.lengths.next();
                caps += r.draftBudget;
                decoding.add(r);
            }
        }
        width = Math.min(width, config.tokenBudget());
        // A lone decoder's pass is a few tokens wide, where guesses cost little: its own rule decides, and a
        // fresh server, whose first wide passes ran before the JIT had compiled them, does not stop it guessing.
        double[] cost = decoding.size() < 2 || draftSteps++ % EXPLORE_EVERY == 0 ? null : passCosts.costs(width + caps);
        if (cost == null) {
            return;
        }
        double[] alpha = new double[decoding.size()];
        int[] cap = new int[decoding.size()];
        for (int i = 0; i < alpha.length; i++) {
            alpha[i] = decoding.get(i).lengths.acceptanceRate();
            cap[i] = decoding.get(i).draftBudget;
        }
        if (!DraftBudget.pays(alpha, cap, cost, width, yield, proposeNanos)) {
            for (ScheduledRequest r : decoding) {
                r.draftBudget = 0;
            }
        }
    }

    /**
     * Asks a decoding request's proposer for up to {@code room} tokens (fewer where the context,
     * the request's token limit or free cache blocks end first), reserving their blocks; null
     * when there is nothing to verify.
     */
    private Proposal propose(ScheduledRequest r, int room) {
        if (speculation == null || !r.request.sampling().allowsSpeculation()) {
            return null;
        }
        if (r.proposer == null) {
            // (Re)opened lazily: a preempted request gave its proposer back, but keeps its acceptance history.
            r.proposer = speculation.open(r.request.sampling());
        }
        // A pass over the pending token and k guesses fills k+1 positions and yields up to k+1 tokens.
        int k = Math.min(Math.min(r.draftBudget, room), contextSize - r.length);
        if (r.request.maxTokens() >= 0) {
            k = Math.min(k, r.request.maxTokens() - r.generated - 1);
        }
        if (k <= 0) {
            return null;
        }
        Proposal p;
        try {
            long t0 = System.nanoTime();
            p = r.proposer.propose(r.tokens, r.length, k);
            if (p.size() > 0) {
                proposeNanos = PassCosts.follow(proposeNanos, (double) (System.nanoTime() - t0) / p.size());
            }
        } catch (RuntimeException e) {
            // A proposer that fails (say, a draft cache out of room) costs this step its guesses, nothing more.
            r.proposer.close();
            r.proposer = null;
            return null;
        }
        if (p.size() == 0 || p.size() > k || !reserve(blocksNeeded(r, 1 + p.size()))) {
            return null;
        }
        return p;
    }

    /**
     * Decides a speculating request's tokens from its rows of logits (the pending token's, then
     * one per guess): every guess the target agrees with, then the target's own token. Cuts the
     * rejected guesses from the cache. Returns the decided tokens, not yet accepted.
     */
    private int[] verify(ScheduledRequest r, float[] logits, int firstRow, TokenLogprob[] logprobs) {
        Proposal p = r.proposal;
        int m = p.size();
        int top = r.request.logprobs();
        boolean sampled = top >= 0 && r.request.sampledProbs();
        boolean greedy = r.request.sampling().temperature() <= 0f;
        int[] out = new int[m + 1];
        int n = 0;
        while (true) {
            float[] row = Arrays.copyOfRange(logits, (firstRow + n) * vocab, (firstRow + n + 1) * vocab);
            float[] raw = top >= 0 && !sampled ? row.clone() : null;
            banEnds(r, row, r.generated + n);
            int d = n < m ? p.tokens()[n] : -1;
            int x;
            float[] probs = greedy && !sampled ? null : r.sampler.probabilities(row);
            if (greedy) {
                x = r.sampler.sample(row);
            } else {
                x = d < 0 ? SpeculativeSampling.draw(probs, r.rng()) : SpeculativeSampling.verify(probs, p.distribution(n), d, r.rng());
                r.sampler.chosen(x);
            }
            if (logprobs != null) {
                logprobs[n] = raw != null ? Logprobs.of(raw, x, top) : Logprobs.sampled(probs, x, top);
            }
            out[n++] = x;
            if (x != d) {
                break;
            }
        }
        int kept = n - 1;
        // The cache keeps the pending token and the accepted guesses; the last decided token is the next pending one.
        engine.truncate(r.table, r.length + kept);
        r.lengths.update(m, kept);
        drafted += m;
        draftAccepted += kept;
        proposalPasses++;
        return Arrays.copyOf(out, n);
    }

    /**
     * Adds a request's next {@code take} tokens to the batch; logits only for its last token, or
     * for the pending token and each guess of its proposal.
     */
    private int plan(Batch batch, ScheduledRequest r, int take, List<ScheduledRequest> planned, List<ScheduledRequest> sampling) {
        int from = r.computed();
        r.firstRow = batch.logitCount();
        r.scoreRows = 0;
        if (r.proposal != null) {
            batch.add(r.tokens[from], r.table, from, true, r.request.adapter());
            for (int i = 0; i < r.proposal.size(); i++) {
                batch.add(r.proposal.tokens()[i], r.table, from + 1 + i, true, r.request.adapter());
            }
            planned.add(r);
            sampling.add(r);
            return take;
        }
        // A prompt being scored wants the logits of every position that predicts a prompt token.
        int scoredUpTo = r.promptLogprobs == null ? 0 : r.request.prompt().length - 1;
        for (int p = from; p < from + take; p++) {
            boolean scores = p < scoredUpTo;
            batch.add(r.tokens[p], r.table, p, scores || p == r.length - 1, r.request.adapter());
            if (scores) {
                r.scoreRows++;
            }
        }
        planned.add(r);
        if (from + take == r.length) {
            sampling.add(r);
        }
        return take;
    }

    /**
     * Scores the prompt tokens this step's rows predict; once every prompt token after the first
     * is scored, hands them to the listener.
     */
    private void score(ScheduledRequest r, float[] logits) {
        int[] prompt = r.request.prompt();
        for (int j = 0; j < r.scoreRows; j++) {
            int row = r.firstRow + j;
            float[] raw = Arrays.copyOfRange(logits, row * vocab, (row + 1) * vocab);
            r.promptLogprobs.add(Logprobs.of(raw, prompt[r.promptLogprobs.size() + 1], r.request.promptLogprobs()));
        }
        if (r.promptLogprobs.size() == prompt.length - 1) {
            List<TokenLogprob> all = List.copyOf(r.promptLogprobs);
            r.promptLogprobs = null;
            try {
                r.listener.onPromptLogprobs(all);
            } catch (RuntimeException e) {
                r.cancelled = true;
            }
        }
    }

    private int blocksNeeded(ScheduledRequest r, int take) {
        int c = r.computed();
        return BlockPool.blocksFor(c + take) - BlockPool.blocksFor(c);
    }

    /** Sets aside {@code n} free blocks for this step, evicting idle cached blocks if needed. */
    private boolean reserve(int n) {
        if (!makeRoom(plannedBlocks + n)) {
            return false;
        }
        plannedBlocks += n;
        return true;
    }

    /** Whether {@code n} blocks are free within the limit, once idle prefix-cache blocks are evicted (least recently used first). */
    private boolean makeRoom(int n) {
        BlockPool pool = engine.cache();
        while (blockLimit - pool.usedBlocks() < n) {
            if (prefixCache == null || !prefixCache.evictOne()) {
                return false;
            }
        }
        return true;
    }

    private void attachCachedPrefix(ScheduledRequest r) {
        // A prompt being scored needs the logits of every position, so none of it is taken from the cache.
        if (prefixCache == null || r.promptLogprobs != null) {
            return;
        }
        // The last token is always computed: its logits are needed, and its block must be private.
        int reusable = (r.length - 1) / BlockPool.BLOCK_SIZE;
        List<Integer> hit = prefixCache.acquire(r.blockHashes(r.length).subList(0, reusable), r.length);
        for (int block : hit) {
            r.table.appendShared(block);
        }
        r.registered = hit.size();
    }

    private void registerFullBlocks(ScheduledRequest r) {
        if (prefixCache == null) {
            return;
        }
        // Only known tokens: a speculating request's cache may still hold guesses not accepted yet.
        int known = Math.min(r.computed(), r.length);
        int full = known / BlockPool.BLOCK_SIZE;
        var hashes = r.blockHashes(known);
        for (int i = r.registered; i < full; i++) {
            prefixCache.insert(hashes.get(i), r.table.block(i * BlockPool.BLOCK_SIZE));
        }
        r.registered = Math.max(r.registered, full);
    }

    private void insertRunning(ScheduledRequest r) {
        r.slot = slots.free(running);
        int i = running.size();
        while (i > 0 && running.get(i - 1).order > r.order) {
            i--;
        }
        running.add(i, r);
    }

    /** Frees a running request's blocks; it waits at the head of the queue to be recomputed. */
    private void preempt(ScheduledRequest r) {
        r.slot = -1;
        r.table.close();
        r.table = null;
        r.registered = 0;
        if (r.promptLogprobs != null) {
            // Its prompt is computed again from the start, and scored again.
            r.promptLogprobs.clear();
        }
        // A draft model's session is freed too: only running requests hold one, so --parallel of them suffice.
        if (r.proposer != null) {
            r.proposer.close();
            r.proposer = null;
        }
        waiting.addFirst(r);
        preemptions++;
    }

    private void sample(ScheduledRequest r, float[] logits) {
        int top = r.request.logprobs();
        boolean sampled = top >= 0 && r.request.sampledProbs();
        float[] raw = top >= 0 && !sampled ? logits.clone() : null;
        int token;
        banEnds(r, logits, r.generated);
        float[] probs;
        try {
            probs = sampled ? r.sampler.probabilities(logits) : null;
            token = r.sampler.sample(logits);
        } catch (TernException e) {
            // This request's constraint admits no token of the vocabulary: it ends, the others run on.
            running.remove(r);
            finish(r, FinishReason.ERROR, e.getMessage());
            return;
        }
        accept(r, token, raw != null ? Logprobs.of(raw, token, top) : sampled ? Logprobs.sampled(probs, token, top) : null);
    }

    /**
     * Before its {@link Request#minTokens}, a request's row of logits loses the tokens that would end
     * it (end of generation, its stop tokens), as vLLM's min_tokens does; {@code index} counts the
     * tokens generated before the one this row decides. Log-probabilities stay those of the model.
     */
    private void banEnds(ScheduledRequest r, float[] row, int index) {
        if (index >= r.request.minTokens()) {
            return;
        }
        for (int t : endOfGeneration) {
            row[t] = Float.NEGATIVE_INFINITY;
        }
        for (int t : r.request.stopTokens()) {
            row[t] = Float.NEGATIVE_INFINITY;
        }
    }

    /** Hands a decided token to its request: streamed, or the request ends. Returns whether it runs on. */
    private boolean accept(ScheduledRequest r, int token, TokenLogprob logprob) {
        if (tokenizer.isEndOfGeneration(token) || r.request.stopsAt(token)) {
            running.remove(r);
            finish(r, FinishReason.STOP, null);
            return false;
        }
        r.append(token);
        r.generated++;
        r.pendingTokens.add(token);
        if (logprob != null) {
            r.pendingLogprobs.add(logprob);
        }
        String out = r.text.append(r.lines.accept(r.decoder.append(token)));
        if (!out.isEmpty()) {
            emit(r, out);
        }
        FinishReason reason = r.text.stopped() ? FinishReason.STOP
                : r.lines.ended() || (r.request.maxTokens() >= 0 && r.generated >= r.request.maxTokens())
                || (r.computed() >= contextSize && !shift(r)) ? FinishReason.LENGTH : null;
        if (reason != null) {
            running.remove(r);
            finish(r, reason, null);
            return false;
        }
        return true;
    }

    /**
     * Makes room in a request's full context as its {@link ContextShift} says: the gap's tokens
     * leave its token list, and its cache is cut back to the block holding the gap's start, so that
     * the tokens after it are computed again, as a prompt chunk, at their new positions. Blocks are
     * never rewritten in place: the prefix cache may share them. Returns false when it cannot shift.
     */
    private boolean shift(ScheduledRequest r) {
        ContextShift.Gap gap = r.request.shift().gap(r.tokens, r.computed(), r.request.prompt().length, tokenizer.bos(), contextSize);
        if (gap.count() == 0) {
            return false;
        }
        r.length = gap.removeFrom(r.tokens, r.length);
        int blocks = gap.from() / BlockPool.BLOCK_SIZE;
        engine.truncate(r.table, blocks * BlockPool.BLOCK_SIZE);
        r.hashes.subList(Math.min(blocks, r.hashes.size()), r.hashes.size()).clear();
        r.registered = Math.min(r.registered, blocks);
        r.shifts++;
        shifts++;
        return true;
    }

    private void emit(ScheduledRequest r, String text) {
        int[] ids = r.pendingTokens.stream().mapToInt(Integer::intValue).toArray();
        RequestOutput out = new RequestOutput(text, ids, List.copyOf(r.pendingLogprobs));
        r.pendingTokens.clear();
        r.pendingLogprobs.clear();
        try {
            r.listener.onOutput(out);
        } catch (RuntimeException e) {
            r.cancelled = true;
        }
    }

    /** Ends a request that is neither running nor waiting any more: last text, blocks freed, listener told. */
    private void finish(ScheduledRequest r, FinishReason reason, String error) {
        if (reason == FinishReason.STOP || reason == FinishReason.LENGTH) {
            // A line limit cut the last piece: its incomplete character goes with it.
            String rest = r.lines.ended() ? r.text.finish() : r.text.finish(r.decoder);
            if (!rest.isEmpty() || !r.pendingTokens.isEmpty()) {
                emit(r, rest);
            }
        }
        if (r.slot >= 0) {
            // What the slot's cache holds now: its full blocks stay in the prefix cache until evicted.
            slots.ended(r.slot, Arrays.copyOf(r.tokens, Math.min(r.computed(), r.length)), r.request.adapter());
            r.slot = -1;
        }
        if (r.table != null) {
            r.table.close();
            r.table = null;
        }
        if (r.proposer != null) {
            r.proposer.close();
            r.proposer = null;
        }
        if (r.cachedTokens < 0) {
            notStarted.decrementAndGet();
        }
        RequestResult result = new RequestResult(reason, r.request.prompt().length, Math.max(0, r.cachedTokens),
                r.generated, error, reason == FinishReason.STOP ? r.text.matched() : null, r.shifts);
        try {
            r.listener.onFinish(result);
        } catch (RuntimeException ignored) {
            // A failing listener must not stop the loop that serves everyone else.
        }
    }

    /** A bug in a step must not leave clients waiting forever: everyone in flight ends with the error. */
    private void failAll(RuntimeException e) {
        synchronized (engine) {
            String msg = "internal error: " + e;
            for (ScheduledRequest r : new ArrayList<>(running)) {
                finish(r, FinishReason.ERROR, msg);
            }
            running.clear();
            while (!waiting.isEmpty()) {
                finish(waiting.pollFirst(), FinishReason.ERROR, msg);
            }
            stats = snapshot();
        }
    }

    private void reapCancelled() {
        for (var it = waiting.iterator(); it.hasNext(); ) {
            ScheduledRequest r = it.next();
            if (r.cancelled) {
                it.remove();
                finish(r, FinishReason.CANCELLED, null);
            }
        }
        for (var it = running.iterator(); it.hasNext(); ) {
            ScheduledRequest r = it.next();
            if (r.cancelled) {
                it.remove();
                finish(r, FinishReason.CANCELLED, null);
            }
        }
    }

    private SchedulerStats snapshot() {
        runningNow = running.stream()
                .map(r -> new RunningRequest(r.order, r.request, r.computed(), r.generated, Math.max(0, r.cachedTokens), r.slot))
                .toList();
        BlockPool pool = engine.cache();
        return new SchedulerStats(waiting.size() + incoming.size(), running.size(), pool.usedBlocks(), blockLimit,
                prefixCache == null ? 0 : prefixCache.size(),
                prefixCache == null ? 0 : prefixCache.queriedTokens(),
                prefixCache == null ? 0 : prefixCache.hitTokens(), preemptions, shifts, drafted, draftAccepted, proposalPasses);
    }

    /** Stops the loop; requests still waiting or running end as CANCELLED; the prefix cache is emptied. */
    @Override
    public void close() {
        closed = true;
        wake();
        Thread t;
        synchronized (this) {
            t = thread;
        }
        if (t != null) {
            try {
                t.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        synchronized (engine) {
            for (ScheduledRequest r; (r = incoming.poll()) != null; ) {
                waiting.addLast(r);
            }
            for (ScheduledRequest r : new ArrayList<>(running)) {
                finish(r, FinishReason.CANCELLED, null);
            }
            running.clear();
            while (!waiting.isEmpty()) {
                finish(waiting.pollFirst(), FinishReason.CANCELLED, null);
            }
            if (prefixCache != null) {
                prefixCache.clear();
            }
            stats = snapshot();
        }
    }
}
