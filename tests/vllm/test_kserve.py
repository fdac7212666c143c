"""The one KServe merge: runtime container + predictor model container, runtime pod + predictor pod."""

from coldstart.vllm.kserve import CONTAINER, predictor_pod

RUNTIME = {"containers": [{"name": CONTAINER, "image": "kserve/vllm:1", "args": ["--model_name={{.Name}}"],
                           "env": [{"name": "A", "value": "1"}],
                           "volumeMounts": [{"name": "shm", "mountPath": "/dev/shm"}],
                           "resources": {"limits": {"cpu": "4"}}}],
           "volumes": [{"name": "shm", "emptyDir": {"medium": "Memory"}}],
           "tolerations": [{"key": "a", "operator": "Exists"}],
           "supportedModelFormats": [{"name": "huggingface"}]}


def test_predictor_merges_over_the_runtime_as_kserve_does():
    predictor = {"model": {"modelFormat": {"name": "huggingface"}, "storageUri": "oci://x/y@sha256:" + "a" * 64,
                           "args": ["--max-model-len=4096"], "env": [{"name": "A", "value": "2"}],
                           "volumeMounts": [{"name": "shm", "mountPath": "/dev/shm", "readOnly": False}],
                           "resources": {"limits": {"nvidia.com/gpu": "1"}}},
                 "nodeSelector": {"gpu": "l4"}, "priorityClassName": "high", "minReplicas": 0}
    pod = predictor_pod(RUNTIME, predictor, {"name": "llama", "namespace": "ns"})
    (main,) = pod["containers"]
    assert main["args"] == ["--model_name=llama", "--max-model-len=4096"]  # args append
    assert main["env"] == [{"name": "A", "value": "2"}]  # env merges by name
    assert main["volumeMounts"] == [{"name": "shm", "mountPath": "/dev/shm", "readOnly": False}]  # by mountPath
    assert main["resources"]["limits"] == {"cpu": "4", "nvidia.com/gpu": "1"}
    assert pod["nodeSelector"] == {"gpu": "l4"} and pod["priorityClassName"] == "high"
    assert "minReplicas" not in pod and "supportedModelFormats" not in pod
    assert RUNTIME["containers"][0]["args"] == ["--model_name={{.Name}}"]  # inputs untouched
