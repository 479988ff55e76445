package dev.tern.gguf;

import dev.tern.TernException;

import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * llama-quantize's {@code --prune-layers}: whole blocks left out of a model, the blocks after them
 * renumbered so that the layers stay consecutive (blk.4 becomes blk.3 when blk.1 goes), and the
 * block count lowered to match.
 */
public final class LayerPruning {
    private static final Pattern BLOCK = Pattern.compile("blk\\.(\\d{1,9})\\.");

    private final int[] pruned;

    /** @param layers the blocks to leave out, in any order, repeats allowed */
    public LayerPruning(List<Integer> layers) {
        TreeSet<Integer> sorted = new TreeSet<>();
        for (int l : layers) {
            if (l < 0) {
                throw new TernException("--prune-layers: invalid layer id " + l);
            }
            sorted.add(l);
        }
        this.pruned = sorted.stream().mapToInt(Integer::intValue).toArray();
    }

    /** The block number in a tensor's name (blk.N.), or -1 when it names none. */
    static int layerOf(String name) {
        Matcher m = BLOCK.matcher(name);
        return m.find() ? Integer.parseInt(m.group(1)) : -1;
    }

    /** A tensor's name in the pruned model, or null when its block is left out. */
    public String rename(String name) {
        Matcher m = BLOCK.matcher(name);
        if (!m.find()) {
            return name;
        }
        int layer = Integer.parseInt(m.group(1));
        int below = 0;
        for (int p : pruned) {
            if (p == layer) {
                return null;
            }
            if (p < layer) {
                below++;
            }
        }
        return below == 0 ? name : name.substring(0, m.start(1)) + (layer - below) + name.substring(m.end(1));
    }

    /**
     * The model without the pruned blocks, its other tensors renamed (a view of the same mapping, which it
     * takes over: close the view, not {@code model}). Its metadata is the model's: llama-quantize lowers
     * the block count only as it writes, and chooses the FFN types by the original one.
     */
    public GGUFFile apply(GGUFFile model) {
        if (pruned.length == 0) {
            return model;
        }
        int blocks = blockCount(model);
        if (pruned[pruned.length - 1] >= blocks) {
            throw new TernException(model.path() + ": --prune-layers " + pruned[pruned.length - 1] + ": the model has layers 0 to " + (blocks - 1));
        }
        if (pruned.length == blocks) {
            throw new TernException(model.path() + ": --prune-layers would leave none of the model's " + blocks + " layers");
        }
        return model.renamed(this::rename);
    }

    /** The metadata key of the model's block count and its value once the pruned blocks are gone; null when none is pruned. */
    public Map.Entry<String, MetadataValue> loweredBlockCount(GGUFFile model) {
        if (pruned.length == 0) {
            return null;
        }
        return Map.entry(model.getString("general.architecture") + ".block_count", MetadataValue.ofUInt32(blockCount(model) - pruned.length));
    }

    private static int blockCount(GGUFFile model) {
        return model.getInt(model.getString("general.architecture") + ".block_count");
    }

    /** An importance matrix for the pruned model: its entries renamed as the tensors are, those of pruned blocks dropped. */
    public ImportanceMatrix apply(ImportanceMatrix imatrix) {
        return pruned.length == 0 || imatrix == null ? imatrix : imatrix.renamed(this::rename);
    }
}
