package dev.tern.model;

import dev.tern.TernException;
import dev.tern.gguf.GGUFFile;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

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
    private final AutoCloseable resource;

    /** A model over weights the caller keeps alive (for instance built in memory). */
    public Model(ModelConfig config, ModelWeights weights) {
        this(config, weights, null);
    }

    Model(ModelConfig config, ModelWeights weights, AutoCloseable resource) {
        this(config, weights, List.of(), resource);
    }

    private Model(ModelConfig config, ModelWeights weights, List<LoraAdapter> adapters, AutoCloseable resource) {
        this.config = config;
        this.weights = weights;
        this.adapters = adapters;
        this.resource = resource;
    }

    /**
     * This model with adapters (loaded for it by {@link LoraAdapter#load}) applied; closing the
     * result closes them and this model.
     */
    public Model withAdapters(List<LoraAdapter> more) {
        List<LoraAdapter> all = new ArrayList<>(adapters);
        all.addAll(more);
        return new Model(config, weights, List.copyOf(all), () -> {
            more.forEach(LoraAdapter::close);
            close();
        });
    }

    /** The LoRA adapters applied, in the order given. */
    public List<LoraAdapter> adapters() {
        return adapters;
    }

    /** Loads a GGUF file or a llama2.c {@code .bin} checkpoint, told apart by their first bytes. */
    public static Model load(Path file) {
        if (GGUFFile.isGGUF(file)) {
            GGUFFile gguf = GGUFFile.open(file);
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
