package dev.tern.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tern.TernException;
import dev.tern.engine.Scheduler;
import dev.tern.engine.SlotResult;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * llama-server's {@code POST /slots/{id}?action=save|restore|erase} ({@code --slot-save-path}): a slot's
 * cached tokens saved to a file in {@code dir}, put back into the prefix cache from one, or forgotten
 * ({@link Scheduler#saveSlot}). Files name the model they were made with ({@code fingerprint}) and are
 * refused for another.
 *
 * @param dir         where the files are
 * @param fingerprint the served model's, as {@link dev.tern.engine.SessionFile#fingerprint} reads it
 */
record SlotFiles(Path dir, byte[] fingerprint) {

    ObjectNode handle(Scheduler scheduler, String id, String action, ObjectNode body) {
        int slot;
        try {
            slot = Integer.parseInt(id);
        } catch (NumberFormatException e) {
            throw ApiException.badRequest("the slot id must be a number, got '" + id + "'", "id_slot");
        }
        long t0 = System.nanoTime();
        ObjectNode out = Json.object().put("id_slot", slot);
        try {
            switch (action == null ? "" : action) {
                case "save" -> {
                    String name = filename(body);
                    SlotResult r = scheduler.saveSlot(slot, dir.resolve(name), fingerprint);
                    out.put("filename", name).put("n_saved", r.tokens()).put("n_written", r.bytes());
                    out.putObject("timings").put("save_ms", (System.nanoTime() - t0) / 1e6);
                }
                case "restore" -> {
                    String name = filename(body);
                    SlotResult r = scheduler.restoreSlot(slot, dir.resolve(name), fingerprint);
                    out.put("filename", name).put("n_restored", r.tokens()).put("n_read", r.bytes());
                    out.putObject("timings").put("restore_ms", (System.nanoTime() - t0) / 1e6);
                }
                case "erase" -> out.put("n_erased", scheduler.eraseSlot(slot).tokens());
                default -> throw ApiException.badRequest("action must be save, restore or erase", "action");
            }
        } catch (TernException | IllegalArgumentException e) {
            throw ApiException.badRequest(e.getMessage(), null);
        }
        return out;
    }

    /** The body's filename: a plain file name, as llama.cpp's fs_validate_filename accepts, so it stays in dir. */
    private static String filename(ObjectNode body) {
        JsonNode f = body.get("filename");
        String name = f != null && f.isTextual() ? f.asText() : "";
        boolean bad = name.isEmpty() || name.getBytes(StandardCharsets.UTF_8).length > 255 || name.equals(".") || name.equals("..")
                || !name.strip().equals(name) || name.endsWith(".") || name.chars().anyMatch(c -> c < 0x20 || c == 0x7f
                || "/\\:*?\"<>|".indexOf(c) >= 0);
        if (bad) {
            throw ApiException.badRequest("filename must be a plain file name (no path, at most 255 bytes), got '" + name + "'",
                    "filename");
        }
        return name;
    }
}
