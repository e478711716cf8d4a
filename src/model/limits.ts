// Upper bounds on every quantity gpu-ledger reads: values a real GPU, node or pod cannot exceed.
// Beyond them an object is invalid (pods) or has a problem (nodes), with a reason naming the field
// and the value. They keep every ledger counter an exact integer: a GPU's memory counter is a sum
// of at most MAX_PODS_PER_GPU takes of at most MAX_GPU_MEMORY_BYTES each, 2^11 × 2^42 = 2^53.

/** Memory of one GPU: 4 TiB (the largest GPUs today have under 1 TiB, unified memory included). */
export const MAX_GPU_MEMORY_BYTES = 2 ** 42;
/** GPUs (or MIG devices advertised as GPUs) on one node. */
export const MAX_GPUS_PER_NODE = 128;
/** Shared replicas (time-slicing, MPS) one GPU advertises. */
export const MAX_REPLICAS_PER_GPU = 1024;
/** MPS clients per GPU a node may allow (NVIDIA: 48 on Volta and later). */
export const MAX_MPS_CLIENTS = 1024;
/** Allowed Σ MPS thread % as a ratio of 100 % (NVIDIA suggests up to 2 for idle-SM sharing). */
export const MAX_COMPUTE_OVERCOMMIT = 16;
/** One pod's request of one NVIDIA resource: every replica of every GPU of the largest node. */
export const MAX_REQUEST_PER_RESOURCE = MAX_GPUS_PER_NODE * MAX_REPLICAS_PER_GPU;
/** Pods the ledger accounts on one GPU (more means pods bypassed scheduling: the node is flagged). */
export const MAX_PODS_PER_GPU = 2048;
/** MIG profiles one node may offer. */
export const MAX_MIG_PROFILES = 32;
/** CPU of one node or pod, in milli-CPUs (2^20 cores). */
export const MAX_CPU_MILLI = 2 ** 30;

/** Pod structure read per request (the API server's object size limit keeps real pods far below). */
export const MAX_CONTAINERS = 256;
export const MAX_ENV_PER_CONTAINER = 4096;
/** Distinct NVIDIA resource names one pod may request. */
export const MAX_GPU_RESOURCE_NAMES = 64;
/** Characters of one CUDA_MPS_* value (one entry per GPU fits easily). */
export const MAX_ENV_VALUE = 4096;
/** Kubernetes' own limits: DNS subdomain names (253), label values and DNS labels (63). */
export const MAX_NAME = 253;
export const MAX_LABEL_VALUE = 63;
