package dev.tern.model;

import dev.tern.TernException;
import dev.tern.gguf.GGUFFile;
import dev.tern.gguf.MetadataValue;
import dev.tern.tensor.Tensor;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A loaded model: its hyper-parameters and weights, and the LoRA adapters applied on top of
 * them, read-only and shareable between threads. It holds no tokenizer (the caller pairs one
 * with it) and no per-sequence state; running it is the job of {@link ForwardPass} over a KV
 * cache. Closing it unmaps the files it came from.
 */
public final class Model implements AutoCloseable {
    private final ModelConfig config;
    private final ModelWeights weights;
    private final List<LoraAdapter> adapters;
    private final Map<String, LoraAdapter> named;
    private final AutoCloseable resource;

    /** A model over weights the caller keeps alive (for instance built in memory). */
    public Model(ModelConfig config, ModelWeights weights) {
        this(config, weights, null);
    }

    Model(ModelConfig config, ModelWeights weights, AutoCloseable resource) {
        this(config, weights, List.of(), Map.of(), resource);
    }

    private Model(ModelConfig config, ModelWeights weights, List<LoraAdapter> adapters, Map<String, LoraAdapter> named,
                  AutoCloseable resource) {
        this.config = config;
        this.weights = weights;
        this.adapters = adapters;
        this.named = named;
        this.resource = resource;
    }

    /**
     * This model with adapters (loaded for it by {@link LoraAdapter#load}): {@code applied} to every
     * token, and {@code named} ones that requests may ask for by name (a token's own adapter, see
     * {@link Batch}). Closing the result closes them and this model.
     */
    public Model withAdapters(List<LoraAdapter> applied, Map<String, LoraAdapter> named) {
        List<LoraAdapter> all = new ArrayList<>(adapters);
        all.addAll(applied);
        Map<String, LoraAdapter> names = new LinkedHashMap<>(this.named);
        names.putAll(named);
        return new Model(config, weights, List.copyOf(all), Collections.unmodifiableMap(names), () -> {
            applied.forEach(LoraAdapter::close);
            named.values().forEach(LoraAdapter::close);
            close();
        });
    }

    /** The LoRA adapters applied to every token, in the order given. */
    public List<LoraAdapter> adapters() {
        return adapters;
    }

    /** The adapters requests may ask for, by name, in the order given. */
    public Map<String, LoraAdapter> namedAdapters() {
        return named;
    }

    /** Loads a GGUF file or a llama2.c {@code .bin} checkpoint, told apart by their first bytes. */
    public static Model load(Path file) {
        return load(file, Map.of());
    }

    /** As {@link #load(Path)}, reading these metadata values in place of a GGUF file's (llama.cpp's --override-kv). */
    public static Model load(Path file, Map<String, MetadataValue> overrides) {
        if (GGUFFile.isGGUF(file)) {
            GGUFFile gguf = GGUFFile.open(file, overrides);
            try {
                return GGUFModelReader.read(gguf, gguf);
            } catch (RuntimeException e) {
                gguf.close();
                throw e;
            }
        }
        return Llama2cCheckpoint.load(file);
    }

    /** The model of an open GGUF file; the file stays the caller's to close (after this model). */
    public static Model fromGGUF(GGUFFile file) {
        return GGUFModelReader.read(file, null);
    }


    /**
     * Locks every weight matrix's mapped pages in RAM (llama.cpp's --mlock): none is read from disk
     * again while the model is open. One-line TernException when the system refuses.
     */
    public void lockInMemory() {
        ModelWeights w = weights;
        MemoryLock.lock(w.tokenEmbedding().data());
        if (w.output() != w.tokenEmbedding()) {
            MemoryLock.lock(w.output().data());
        }
        for (LayerWeights l : w.layers()) {
            for (Tensor t : new Tensor[]{l.wq(), l.wk(), l.wv(), l.wo(), l.gate(), l.up(), l.down()}) {
                MemoryLock.lock(t.data());
            }
        }
    }

    public ModelConfig config() {
        return config;
    }

    public ModelWeights weights() {
        return weights;
    }

    @Override
    public void close() {
        if (resource != null) {
            try {
                resource.close();
            } catch (Exception e) {
                throw new TernException("cannot close model: " + e.getMessage(), e);
            }
        }
    }
}
