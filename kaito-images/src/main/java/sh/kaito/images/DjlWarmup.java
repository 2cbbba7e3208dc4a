package sh.kaito.images;

/**
 * Run in a child JVM on the runtime's classpath with {@code DJL_CACHE_DIR} set: loads the PyTorch
 * engine and the tokenizers library once, so DJL unpacks their native libraries into that folder in
 * exactly the layout it looks for at run time. Reflection keeps DJL off this module's classpath.
 */
public final class DjlWarmup {
  private DjlWarmup() {}

  public static void main(String[] args) throws Exception {
    Object engine =
        Class.forName("ai.djl.engine.Engine")
            .getMethod("getEngine", String.class)
            .invoke(null, "PyTorch");
    System.out.println("engine=" + engine.getClass().getMethod("getVersion").invoke(engine));
    Class.forName("ai.djl.huggingface.tokenizers.jni.LibUtils")
        .getMethod("checkStatus")
        .invoke(null);
    System.out.println("tokenizers=ok");
  }
}
