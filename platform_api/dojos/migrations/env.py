from platform_api.kernel.migrations import run_env

run_env()
