SUMMARY = "k8s-daas worker image: a k3s node that daas-agent joins through the Sui chain"
DESCRIPTION = "meta-virtualization's k3s node packages, daas-agent supervising k3s, \
               systemd-timesyncd for the time, on an SD-card layout with a FAT boot \
               partition for the first-boot bundle and a data partition that keeps the \
               node's keys, k3s state and node password across reflashes of the root."
LICENSE = "MIT"

inherit core-image

# packagegroup-k3s-node: k3s-agent (its k3s-agent.service stays disabled, as the recipe
# sets it: daas-agent starts k3s itself), containerd, CNI, flannel config. kernel-modules:
# the netfilter, overlay, br_netfilter and vxlan modules k3s loads, as
# meta-virtualization's container-image-host installs them. e2fsck: fsck of /data.
IMAGE_INSTALL = "packagegroup-core-boot \
                 packagegroup-k3s-node \
                 daas-agent \
                 kernel-modules \
                 e2fsprogs-e2fsck \
                 ${CORE_IMAGE_EXTRA_INSTALL}"
IMAGE_LINGUAS = ""

# files/wic/k8s-daas-sdimage.wks.in: boot (FAT, where `daas-master image stamp` writes the
# bundle folder k8s-daas/), root, data. The raw .wic is what `image stamp` takes.
WKS_FILE = "k8s-daas-sdimage.wks.in"
IMAGE_FSTYPES = "wic wic.bmap ext4"
# Size of the data partition in MiB: containerd's images live under /var/lib/rancher.
K8S_DAAS_DATA_SIZE ?= "4096"
# The boot and data partitions as the board sees them; the root partition is
# meta-raspberrypi's CMDLINE_ROOT_PARTITION (default /dev/mmcblk0p2, SD card).
K8S_DAAS_BOOT_DEVICE ?= "/dev/mmcblk0p1"
K8S_DAAS_DATA_DEVICE ?= "/dev/mmcblk0p3"

# What lives on the data partition, mounted at /data: <path>:<folder on /data>:<mode>.
# /var/lib/rancher: k3s's data dir (agent certificates, containerd); /etc/rancher/node: the
# node password; /var/lib/k8s-daas: the device keys, node_id and state.json; /etc/k8s-daas:
# agent.toml as imported from the bundle (which is wiped after the first boot).
K8S_DAAS_PERSISTENT ?= "var/lib/rancher:rancher:0755 \
                        etc/rancher/node:rancher-node:0700 \
                        var/lib/k8s-daas:k8s-daas:0700 \
                        etc/k8s-daas:k8s-daas-etc:0755"

# The fstab is written here rather than by wic (the wks sets --no-fstab-update), so that
# the root filesystem alone (the ext4 image, for reflashing the root partition) mounts
# the same partitions as the whole card.
k8s_daas_data_partition() {
    fstab=${IMAGE_ROOTFS}${sysconfdir}/fstab
    printf '%s\t/boot\tvfat\tdefaults\t0\t0\n' ${K8S_DAAS_BOOT_DEVICE} >> $fstab
    printf '%s\t/data\text4\tdefaults\t0\t2\n' ${K8S_DAAS_DATA_DEVICE} >> $fstab
    install -d -m 0755 ${IMAGE_ROOTFS}/boot ${IMAGE_ROOTFS}/data
    for entry in ${K8S_DAAS_PERSISTENT}; do
        path=${entry%%:*}
        rest=${entry#*:}
        folder=${rest%%:*}
        mode=${rest#*:}
        install -d -m $mode ${IMAGE_ROOTFS}/data/$folder
        # What packages put there starts out on the data partition.
        if [ -d ${IMAGE_ROOTFS}/$path ]; then
            find ${IMAGE_ROOTFS}/$path -mindepth 1 -maxdepth 1 -exec mv -t ${IMAGE_ROOTFS}/data/$folder {} +
        fi
        install -d -m $mode ${IMAGE_ROOTFS}/$path
        printf '/data/%s\t/%s\tnone\tbind,x-systemd.requires-mounts-for=/data\t0\t0\n' $folder $path >> $fstab
    done
}

# Refuse an image in which k3s would start twice or never get the time, or whose data
# partition size wic would not understand.
k8s_daas_check() {
    case "${K8S_DAAS_DATA_SIZE}" in
        ''|*[!0-9]*) bbfatal "K8S_DAAS_DATA_SIZE is '${K8S_DAAS_DATA_SIZE}': give the data partition's size in MiB" ;;
    esac
    wants=${IMAGE_ROOTFS}${sysconfdir}/systemd/system/multi-user.target.wants
    for unit in k3s.service k3s-agent.service; do
        if [ -e $wants/$unit ]; then
            bbfatal "$unit is enabled in the image: daas-agent starts and supervises k3s itself; disable it (SYSTEMD_AUTO_ENABLE)"
        fi
    done
    if [ ! -e $wants/daas-agent.service ]; then
        bbfatal "daas-agent.service is not enabled in the image"
    fi
    if [ ! -x ${IMAGE_ROOTFS}${nonarch_libdir}/systemd/systemd-timesyncd ]; then
        bbfatal "systemd-timesyncd is missing (systemd's PACKAGECONFIG timesyncd): the boards have no real-time clock"
    fi
}

k8s_daas_data_partition[doc] = "Fills /data with the persistent folders and bind-mounts them in fstab"
k8s_daas_check[doc] = "Fails the image if k3s would run twice, timesyncd is missing or the data size is no number"
ROOTFS_POSTPROCESS_COMMAND += "k8s_daas_data_partition"
# After every rootfs post-processing step, systemd's presets (which enable units) included.
IMAGE_PREPROCESS_COMMAND += "k8s_daas_check"
