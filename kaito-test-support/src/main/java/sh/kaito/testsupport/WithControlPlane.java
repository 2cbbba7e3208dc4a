package sh.kaito.testsupport;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Runs the annotated test class against a real Kubernetes control plane with the project's CRDs
 * installed; see {@link KubernetesControlPlaneExtension}.
 *
 * <pre>{@code
 * @WithControlPlane
 * class WorkspaceControllerIT {
 *   @Test
 *   void createsAJob(KubernetesClient client) { ... }
 * }
 * }</pre>
 */
@Target(ElementType.TYPE)
@Retention(RetentionPolicy.RUNTIME)
@ExtendWith(KubernetesControlPlaneExtension.class)
public @interface WithControlPlane {}
