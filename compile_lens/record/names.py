"""Event names the parser knows but does not parse (yet): listed so that ``unknown`` means new.

A name in neither ``recorder.HANDLERS`` nor these lists is counted as unknown in the trace
(``run.extra["parser"]["unknown"]``): a newer torch or vLLM wrote something no rule reads.
"""

from __future__ import annotations

from compile_lens._events import VLLM_EVENTS

VLLM_OBSERVER_EVENTS = VLLM_EVENTS
"""``compile_lens_*`` events of the vLLM observers (``compile_lens._events.VLLM_EVENTS``, the names
``record/vllm_observer.collect`` parses)."""

TORCH_KNOWN_UNUSED = (
    "str", "dynamo_guards", "dynamo_cpp_guards_str", "guard_added",
    "guard_added_fast", "optimize_ddp_split_graph", "optimize_ddp_split_child",
    "compiled_autograd_graph", "aot_forward_graph", "aot_backward_graph", "aot_inference_graph",
    "aot_joint_graph", "inductor_pre_grad_graph", "inductor_post_grad_graph",
    "bwd_compilation_metrics", "aot_autograd_backward_compilation_metrics",
    "compilation_metrics_runtime", "link", "symbolic_shape_specialization",
    "propagate_real_tensors_provenance", "create_unbacked_symbol", "expression_created",
    "missing_fake_kernel", "mismatched_fake_kernel", "describe_storage", "describe_tensor",
    "describe_source", "dump_file", "exported_program", "create_symbol",
    *(f"artifact:{name}" for name in (
        "before_pre_grad_graph", "after_pre_grad_graph", "before_post_grad_graph",
        "after_post_grad_graph", "before_recompile_pre_grad", "after_recompile_pre_grad",
        "before_recompile_post_grad", "after_recompile_post_grad", "aot_forward_graph_fw_metadata",
        "aotautograd_cache_hash", "fx_graph_cache_hash", "fx_graph_runnable", "recompile_reasons",
        "dynamo_error", "torch._functorch.config",
        "inductor_graph_execution", "inductor_post_to_pre_grad_nodes",
        "inductor_provenance_tracking_kernel_stack_traces",
        "inductor_provenance_tracking_node_mappings",
        "inductor_triton_kernel_to_post_grad_nodes", "before_joint_graph", "after_joint_graph",
        "inductor_post_grad_graph", "runtime_wrapper_orchestration", "backward_prologue",
        "backward_epilogue", "compiled_fn_wrapper", "compiled_function_forward",
        "compiled_function_backward", "inductor_autotune_at_compile_time_code")),
)
"""What torch (2.5 … 2.13) writes that no rule reads yet; listed so ``unknown`` means new."""

