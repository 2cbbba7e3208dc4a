package sh.kaito.api.v1beta1;

import io.fabric8.kubernetes.api.model.DefaultKubernetesResourceList;

/** A list of {@link Workspace}s, as the API server returns it. */
public class WorkspaceList extends DefaultKubernetesResourceList<Workspace> {}
