/* fuzz_main: a main() for fuzz targets built without libFuzzer. It feeds each file named on
 * the command line (or each file in a directory) to LLVMFuzzerTestOneInput once, so the
 * seed corpus runs as a regression test under ASan and UBSan. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    long len;

    if (f == NULL) {
        fprintf(stderr, "fuzz: cannot open %s\n", path);
        return 1;
    }
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc(len > 0 ? (size_t)len : 1);
    if (buf == NULL || (len > 0 && fread(buf, 1, (size_t)len, f) != (size_t)len)) {
        fprintf(stderr, "fuzz: cannot read %s\n", path);
        fclose(f);
        free(buf);
        return 1;
    }
    fclose(f);
    LLVMFuzzerTestOneInput(buf, (size_t)len);
    free(buf);
    return 0;
}

int main(int argc, char **argv)
{
    int runs = 0;

    for (int i = 1; i < argc; i++) {
        struct stat st;

        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "fuzz: cannot stat %s\n", argv[i]);
            return 1;
        }
        if (S_ISDIR(st.st_mode)) {
            DIR *dir = opendir(argv[i]);
            struct dirent *de;

            while (dir != NULL && (de = readdir(dir)) != NULL) {
                char path[4096];

                if (de->d_name[0] == '.')
                    continue;
                snprintf(path, sizeof(path), "%s/%s", argv[i], de->d_name);
                if (run_file(path) != 0)
                    return 1;
                runs++;
            }
            if (dir != NULL)
                closedir(dir);
        } else {
            if (run_file(argv[i]) != 0)
                return 1;
            runs++;
        }
    }
    printf("ok 1 - replayed %d inputs\n1..1\n", runs);
    return 0;
}
