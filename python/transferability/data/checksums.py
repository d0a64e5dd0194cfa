"""Published md5 of every ImageNet files.txt of the paper's datasets.

Source: docs/PAPER.md, "Published checksums": md5 of the lists in Caffe's format (`path label`
lines). reduced1300 has no published value.
"""

from __future__ import annotations

PUBLISHED_MD5: dict[str, str] = {
    "whole_train": "3be8e5d8cbd932cc295ec175d5110921",
    "whole_valid": "b6284a7c08fba47457c2c1f6049a156e",
    "half0A_train": "83f4e664c68213ba43dd9b4465dd7d4e",
    "half0A_valid": "2f10009e20d77eb7007cf70674958b94",
    "half0B_train": "0a9e2917a5f10bdbf22974f4b1fc17ce",
    "half0B_valid": "cce39b383d681345c873faf2c0c28d33",
    "half1A_train": "8926a880165726455c5639e4813a2d3b",
    "half1A_valid": "9ab48b6420504e32ff4498e7d8569f8b",
    "half1B_train": "b95d534d95151f4fae7610d25d6377fd",
    "half1B_valid": "57522f5e2aa69547846089f5197c8a6b",
    "half2A_train": "61ffa67fe88e307ac1c5639a087fdf1b",
    "half2A_valid": "03d05b6565ab9176baccdd05d746bfd1",
    "half2B_train": "ddda030205cfd7960498d9300f5c3deb",
    "half2B_valid": "18de8b37378e07e60dc602b6130eeeb2",
    "half3A_train": "32369aaeb73012881558f0f16d932b95",
    "half3A_valid": "46086440ddde128f169f23331998499d",
    "half3B_train": "0017c6f301f33db91008663985b6f826",
    "half3B_valid": "e5f9f0895fd0d49a8ac0b804ec891282",
    "halfnatmanA_train": "5fb4569a4f3be3897f490ee21b356256",
    "halfnatmanA_valid": "4fb63c72229ba07106a558127192cb9f",
    "halfnatmanB_train": "4ba839156cd6c7f33d8ada94e4331887",
    "halfnatmanB_valid": "f03be5732fb6bc7928ee53397b043613",
    "reduced0001_train": "803a36f02b511db01532a604f5704ea8",
    "reduced0002_train": "af6addb779610611d460f0ade2931f2f",
    "reduced0005_train": "abdce3ff7f7933b0323c1074de7a734d",
    "reduced0010_train": "d3752c71b0facde0173876293ce632fd",
    "reduced0025_train": "df313d05c0256010b96870f5707f0417",
    "reduced0050_train": "34e5285b75e5448ff82bc6b0ca0c28f7",
    "reduced0100_train": "8376e82b043586424b8bebf4fd4a8af2",
    "reduced0250_train": "e83abe901d08926ef62956be8628dbd0",
    "reduced0500_train": "d32ff1c8817548f0edf5557b32ca5e0e",
    "reduced0750_train": "5bb58aecc081ec6c27ec68bbc755bb58",
    "reduced1000_train": "94fce01f9b4cb80bdb3fbf2a440c26e6",
}
