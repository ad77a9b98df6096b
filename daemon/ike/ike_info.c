/* The INFORMATIONAL exchange (RFC 7296 1.4, 1.5): the peer's requests (DELETE
 * of child SAs or of the IKE SA, a CFG_SET answered with CFG_ACK under S4
 * "config-exchange set accept", an empty one for liveness) and our DELETE of
 * the IKE SA. Our other requests (DPD, child DELETEs, CFG_SET) go through
 * ike_sess_request. */
#include <stdlib.h>
#include <string.h>

#include "daemon/ike/ike_eng.h"
#include "daemon/base/poison.h"

/* DELETE of the IKE SA (RFC 7296 1.4.1), sent once with the next message ID: the
 * session's resources go now, whatever the peer does. */
void ike_info_send_delete(struct ike_sess *s)
{
    struct ike_builder bd;
    struct ike_hdr h = {0};

    ike_build_begin(&bd, &h);
    ike_delete_build(&bd, &(struct ike_delete_pld){.protocol = 1});
    if (ike_build_finish(&bd)) {
        struct ike_out o = {0};

        if (ike_xmit_seal(s, IKE_EXCH_INFORMATIONAL, false, s->our_next, IKE_PLD_DELETE, bd.buf.data + IKE_HDR_LEN,
                 bd.buf.len - IKE_HDR_LEN, &o))
            ike_xmit_out(s, &o);
        ike_xmit_out_free(&o);
    }
    ike_buf_fini(&bd.buf);
}

void ike_info_handle(struct ike_sess *s, const struct ike_msg *in, uint32_t msg_id)
{
    uint8_t *spis_out = NULL, first = IKE_PLD_NONE;
    size_t cap = 0;
    uint16_t nspi = 0;
    bool delete_ike = false;
    struct ike_builder bd;
    struct ike_hdr h = {0};

    for (size_t i = 0; i < in->npld; i++) {
        struct ike_delete_pld d;

        if (in->pld[i].type != IKE_PLD_DELETE || !ike_delete_parse(&in->pld[i], &d))
            continue;
        if (d.protocol == 1) {
            delete_ike = true;
        } else if (d.protocol == 3 && d.spi_len == 4) {
            uint8_t *more = realloc(spis_out, 4 * (cap + d.nspi));

            if (!more)
                continue; /* not answered: the peer asks again */
            spis_out = more;
            cap += d.nspi;
            for (uint16_t j = 0; j < d.nspi; j++) {
                const uint8_t *p = d.spis + 4 * j;
                uint32_t spi = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3], ours;

                /* the peer names its inbound SPI, our outbound (RFC 7296 1.4.1) */
                for (size_t c = 0; c < s->nchild; c++) {
                    if (s->child[c].sc.spi_out != spi)
                        continue;
                    ours = s->child[c].sc.spi_in;
                    if (nspi < cap && nspi < UINT16_MAX) {
                        spis_out[4 * nspi] = (uint8_t)(ours >> 24);
                        spis_out[4 * nspi + 1] = (uint8_t)(ours >> 16);
                        spis_out[4 * nspi + 2] = (uint8_t)(ours >> 8);
                        spis_out[4 * nspi + 3] = (uint8_t)ours;
                        nspi++;
                    }
                    ike_child_remove(s, &s->child[c]);
                    s->child[c] = s->child[--s->nchild];
                    ike_child_forget(s, ours);
                    break;
                }
            }
        }
    }
    ike_build_begin(&bd, &h);
    if (nspi && !delete_ike) {
        ike_delete_build(&bd, &(struct ike_delete_pld){.protocol = 3, .spi_len = 4, .nspi = nspi, .spis = spis_out});
        first = IKE_PLD_DELETE;
    }
    /* a client's CFG_SET (S4 "config-exchange set accept"): acknowledged, none of
     * its attributes taken (RFC 7296 3.15: an empty CFG_ACK) */
    for (size_t i = 0; i < in->npld && s->cfg_set_accept && !delete_ike; i++) {
        struct ike_cp_pld cp;

        if (in->pld[i].type == IKE_PLD_CP && ike_cp_parse(&in->pld[i], &cp) && cp.cfg_type == 3) {
            ike_cp_build(&bd, &(struct ike_cp_pld){.cfg_type = 4});
            first = first ? first : IKE_PLD_CP;
            break;
        }
    }
    ike_redirect_from_client(s, in); /* RFC 5685 6: never acted on */
    if (!delete_ike)
        ike_mobike_info(s, in, &bd, &first); /* RFC 4555: NAT detection, COOKIE2, UPDATE_SA_ADDRESSES */
    if (ike_build_finish(&bd))
        ike_sess_respond(s, IKE_EXCH_INFORMATIONAL, msg_id, first, bd.buf.data + IKE_HDR_LEN,
                         bd.buf.len - IKE_HDR_LEN);
    ike_buf_fini(&bd.buf);
    free(spis_out);
    if (!delete_ike)
        ike_mobike_info_done(s);
    if (delete_ike && s->state == IKE_SA_REKEYED)
        ike_sess_abandon(s); /* the old SA of a rekeyed session: the session goes on */
    else if (delete_ike)
        ike_sess_end(s, "peer-delete", false);
}
