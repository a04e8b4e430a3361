# The memory cgroup controller, which the kubelet needs: Raspberry Pi kernels leave it off
# unless the kernel command line turns it on (daas-agent's status file reports it as
# `cgroup_memory`). meta-raspberrypi's rpi-cmdline.bb builds cmdline.txt from CMDLINE, a
# list of CMDLINE_* parts, none of them for cgroups. Only under DISTRO = "k8s-daas".
CMDLINE:append:k8s-daas = " cgroup_memory=1 cgroup_enable=memory"
