import torch; from safetensors.torch import save_file
sd = torch.load("model_best.pth.tar", map_location="cpu"); sd = sd.get("state_dict", sd)
save_file({k.removeprefix("module."): v.contiguous() for k, v in sd.items()}, "spikformer.safetensors")
